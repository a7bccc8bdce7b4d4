#!/usr/bin/env python3
"""The applier on real changes rendered the ways assistants post edits: ours vs `git apply` vs GNU `patch`.

Corpus: every modified text file of the non-merge commits of one or more git repositories
(default: this project's own history, which includes the example Rust crate), or pairs of real
source trees (two releases) given with --trees. Each per-file change is diffed by git, then
rendered by every kind in `tests/support/damage.py`: the diff damaged the way chat UIs and LLMs
damage diffs (wrong or no line numbers, stripped whitespace, CRLF, U+00A0 indentation, hunks out
of order, an elided middle, …), or the edit carried another way (whole files under prose labels,
the `@agent <code_file>` form, first-line comments naming the file, Markdown with fences of its
own, SEARCH/REPLACE blocks, and "whole files" that are excerpts). Each rendering is applied to a
fresh tree holding the pre-change file; diff renderings also go to `git apply` and GNU `patch`.

    exact    the tool reported success and the file is the real post-change file
    literal  no reading gives the real file (a damage lost what it needs) and the tool wrote what the text says
    refused  the tool reported failure and left the tree as it was
    partial  the tool reported failure but changed the tree
    silent   the tool reported success but the file is wrong: silent damage

A rendering has "one reading" when its text places the edit exactly one way (the oracle in
`damage.py`); the exact rate is counted over those. Where no reading is exact (an excerpt, a
hunk whose text occurs twice without usable line numbers) refusing is right.

To reproduce the figures in the README, bring public Rust repositories here (not into this
project) and pass their paths; --limit caps the changes taken from each:

    git clone https://github.com/serde-rs/json /tmp/json
    git clone https://github.com/rust-lang/log /tmp/log
    git clone https://github.com/dtolnay/anyhow /tmp/anyhow
    .venv/bin/python benchmarks/applier.py --repo /tmp/json --repo /tmp/log --repo /tmp/anyhow --limit 150

Usage: benchmarks/applier.py [--repo DIR ...] [--trees OLD NEW ...] [--limit N] [--kinds K ...] [--show N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.patch import apply_payload  # noqa: E402
from tests.support.damage import DIFF_KINDS, KINDS, Change, Rendering, git_diff  # noqa: E402

MAX_BYTES = 200_000
GIT_APPLY = ["git", "apply", "--recount", "--ignore-whitespace", "-C1", "--whitespace=nowarn"]
GNU_PATCH = ["patch", "-p1", "--fuzz=3", "-l", "--batch", "--forward", "--no-backup-if-mismatch", "--silent", "--reject-file=-", "-i"]


@dataclass(frozen=True)
class Case:
    """One real change to one file; `repo` and `commit` name the project version it belongs to (for its file list)."""

    source: str
    path: str
    before: bytes
    after: bytes
    repo: Path | None = None
    commit: str = ""


# Corpus ---------------------------------------------------------------------------------------


def _git(repo: Path, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], input=data, capture_output=True, check=True).stdout


def _text(data: bytes) -> bool:
    if b"\0" in data or len(data) > MAX_BYTES:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def history_cases(repo: Path) -> Iterator[Case]:
    """Modified text files of every non-merge commit, newest first."""
    log = _git(repo, "-c", "core.quotepath=off", "log", "--no-merges", "--no-renames", "--diff-filter=M", "--name-only", "--format=@%H")
    pairs: list[tuple[str, str]] = []
    commit = ""
    for line in log.decode("utf-8", "replace").splitlines():
        if line.startswith("@"):
            commit = line[1:]
        elif line.strip():
            pairs.append((commit, line))
    specs = "".join(f"{c}^:{p}\n{c}:{p}\n" for c, p in pairs).encode()
    blobs = _cat_batch(repo, specs)
    for k, (c, p) in enumerate(pairs):
        before, after = blobs[2 * k], blobs[2 * k + 1]
        if before is not None and after is not None and before != after and _text(before) and _text(after):
            yield Case(f"{_name(repo)}@{c[:8]}", p, before, after, repo, c)


def _name(repo: Path) -> str:
    """A repository's name: its folder's, or its parent's for a checkout kept as `…/name/repo`."""
    return repo.parent.name.split("+")[-1] if repo.name == "repo" else repo.name


def _cat_batch(repo: Path, specs: bytes) -> list[bytes | None]:
    out = _git(repo, "cat-file", "--batch", data=specs)
    blobs: list[bytes | None] = []
    at = 0
    while at < len(out):
        end = out.index(b"\n", at)
        header = out[at:end].split()
        if header[-1] == b"missing" or header[1] != b"blob":
            blobs.append(None)
            at = end + 1
            continue
        size = int(header[2])
        blobs.append(out[end + 1 : end + 1 + size])
        at = end + 1 + size + 1
    return blobs


def tree_cases(old: Path, new: Path) -> Iterator[Case]:
    """Files present in both trees whose text differs, in path order."""
    for path in sorted(p for p in old.rglob("*") if p.is_file() and not p.is_symlink()):
        rel = path.relative_to(old).as_posix()
        other = new / rel
        if "__pycache__" in rel or not other.is_file():
            continue
        before, after = path.read_bytes(), other.read_bytes()
        if before != after and _text(before) and _text(after):
            yield Case(f"{old.name}->{new.name}", rel, before, after)


@cache
def _listing(repo: Path | None, commit: str) -> tuple[str, ...]:
    if repo is None:
        return ()
    return tuple(_git(repo, "-c", "core.quotepath=off", "ls-tree", "-r", "--name-only", commit).decode("utf-8", "replace").splitlines())


def change_of(case: Case, work: Path) -> Change:
    before, after = case.before.decode("utf-8"), case.after.decode("utf-8")
    return Change(case.path, before, after, git_diff(case.path, before, after, work), _listing(case.repo, case.commit))


# Tools ----------------------------------------------------------------------------------------


def _tree(work: Path, path: str, rendering: Rendering) -> Path:
    root = work / "tree"
    if root.exists():
        shutil.rmtree(root)
    for name, data in [(p, f"// another {p}\n") for p in rendering.decoys] + [(path, rendering.before)]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data.encode("utf-8"))
    return root


def _snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _external(command: list[str], work: Path, root: Path, payload: str) -> bool:
    patch = work / "payload.patch"
    patch.write_bytes(payload.encode("utf-8"))
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(work)}
    return subprocess.run([*command, str(patch)], cwd=root, capture_output=True, env=env).returncode == 0


def ours(work: Path, root: Path, payload: str) -> bool:
    return apply_payload(root, payload).ok


TOOLS: dict[str, Callable[[Path, Path, str], bool]] = {
    "ours": ours,
    "git apply": lambda work, root, payload: _external(GIT_APPLY, work, root, payload),
    "GNU patch": lambda work, root, payload: _external(GNU_PATCH, work, root, payload),
}


def outcome(ok: bool, before: dict[str, bytes], now: dict[str, bytes], path: str, rendering: Rendering) -> str:
    """exact, literal (no exact reading, and the tool wrote what the text says), silent, refused or partial."""
    if ok:
        if now == {**before, path: rendering.after.encode("utf-8")}:
            return "exact"
        if now.keys() == before.keys() and rendering.right(now[path].decode("utf-8", "replace")):
            return "literal"
        return "silent"
    return "refused" if now == before else "partial"


# Run ------------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Outcomes of one tool on one kind: all runs, and the runs whose rendering has one reading."""

    all: Counter[str]
    one: Counter[str]


def corpus(args: argparse.Namespace) -> list[Case]:
    sources: list[Iterator[Case]] = [history_cases(Path(r).resolve()) for r in args.repo or [ROOT]]
    sources += [tree_cases(Path(old).resolve(), Path(new).resolve()) for old, new in args.trees or []]
    cases: list[Case] = []
    for source in sources:
        taken = 0
        for case in source:
            if taken >= args.limit:
                break
            cases.append(case)
            taken += 1
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", action="append", help="a git repository whose history is the corpus (repeatable; default: this one)")
    parser.add_argument("--trees", nargs=2, action="append", metavar=("OLD", "NEW"), help="two releases of a source tree (repeatable)")
    parser.add_argument("--limit", type=int, default=200, help="at most this many per-file changes from each source (default 200)")
    parser.add_argument("--kinds", nargs="*", default=list(KINDS), help="rendering kinds to run (default: all)")
    parser.add_argument("--show", type=int, default=0, help="print this many of our wrong results (silent, or refused with one reading)")
    args = parser.parse_args()
    if shutil.which("patch") is None:
        sys.exit("GNU patch is missing: apt-get install -y patch")

    from loguru import logger

    logger.remove()
    cases = corpus(args)
    if not cases:
        sys.exit("no modified text files found in the given history")
    tallies: dict[str, dict[str, Tally]] = defaultdict(dict)
    seconds: dict[str, float] = defaultdict(float)
    shown = 0
    with tempfile.TemporaryDirectory(prefix="applier-bench-") as tmp:
        work = Path(tmp)
        for case in cases:
            change = change_of(case, work)
            for kind in args.kinds:
                rendering = KINDS[kind](change)
                if rendering is None:
                    continue
                tools = TOOLS if kind in DIFF_KINDS else {"ours": ours}
                for tool, run in tools.items():
                    root = _tree(work, case.path, rendering)
                    before = _snapshot(root)
                    started = time.perf_counter()
                    ok = run(work, root, rendering.payload)
                    seconds[tool] += time.perf_counter() - started
                    result = outcome(ok, before, _snapshot(root), case.path, rendering)
                    tally = tallies[kind].setdefault(tool, Tally(Counter(), Counter()))
                    tally.all[result] += 1
                    if rendering.one_reading:
                        tally.one[result] += 1
                    wrong = result == "silent" or (rendering.one_reading and result != "exact")
                    if tool == "ours" and wrong and shown < args.show:
                        shown += 1
                        print(f"--- ours: {result} on {case.source} {case.path} [{kind}]")
                        print(apply_payload(_tree(work, case.path, rendering), rendering.payload).error)
    report(cases, tallies, seconds)


def _cell(tally: Tally | None) -> str:
    if tally is None:
        return f"{'—':>9}{'—':>7}"
    one = sum(tally.one.values())
    rate = f"{100 * tally.one['exact'] / one:.1f}%" if one else "—"
    return f"{rate:>9}{tally.all['silent']:>7}"


def report(cases: list[Case], tallies: dict[str, dict[str, Tally]], seconds: dict[str, float]) -> None:
    sources = Counter(c.source.split("@")[0] for c in cases)
    kinds = Counter(Path(c.path).suffix or Path(c.path).name for c in cases)
    print(f"corpus: {len(cases)} real per-file changes from {dict(sources)}")
    print(f"file kinds: {dict(kinds.most_common(8))}\n")
    print("exact = exact results among the renderings with one reading; silent = wrong tree with success reported (all renderings)")
    print(f"{'rendering':<34}{'runs':>6}{'one':>6}" + "".join(f"{t + ' exact':>16}{'silent':>7}" for t in TOOLS) + f"{'ours refused (no reading)':>27}")
    totals: dict[str, Tally] = {t: Tally(Counter(), Counter()) for t in TOOLS}
    for kind in KINDS:
        row = tallies.get(kind)
        if not row:
            continue
        mine = row["ours"]
        runs, one = sum(mine.all.values()), sum(mine.one.values())
        none = mine.all - mine.one
        refused = f"{none['refused']}/{sum(none.values())}" if none else "—"
        cells = "".join(f"{_cell(row.get(t)):>23}" for t in TOOLS)
        print(f"{kind:<34}{runs:>6}{one:>6}{cells}{refused:>27}")
        for tool, tally in row.items():
            totals[tool].all.update(tally.all)
            totals[tool].one.update(tally.one)
    mine = totals["ours"]
    print(f"{'all renderings (ours)':<34}{sum(mine.all.values()):>6}{sum(mine.one.values()):>6}{_cell(mine):>23}")
    runs = {t: sum(totals[t].all.values()) for t in TOOLS}
    print("\nms per run: " + ", ".join(f"{t} {1000 * seconds[t] / runs[t]:.2f}" for t in TOOLS if runs[t]))


if __name__ == "__main__":
    main()
