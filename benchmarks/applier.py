#!/usr/bin/env python3
"""Applier robustness on damaged variants of real diffs: ours vs `git apply` vs GNU `patch`, side by side.

Corpus: every modified text file of every non-merge commit of one or more git repositories
(default: this project's own history, which includes the example Rust crate), or pairs of
real source trees (two releases of a library) given with --trees. Each per-file change becomes
a diff made by git, then damaged the way chat UIs and LLMs damage diffs. Each variant is
applied by the three tools to a fresh copy of the pre-change file, and the result is compared
byte for byte with the real post-change file:

    exact    the tool reported success and the file is the real post-change file
    refused  the tool reported failure and left the file as it was
    partial  the tool reported failure but changed the file (some hunks went in)
    silent   the tool reported success but the file is wrong: silent damage

Usage: benchmarks/applier.py [--repo DIR ...] [--trees OLD NEW ...] [--limit N] [--show N]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.patch import apply_payload  # noqa: E402
from tests.support.damage import tabs_to_spaces  # noqa: E402

MAX_BYTES = 200_000
OUTCOMES = ("exact", "refused", "partial", "silent")
GIT_APPLY = ["git", "apply", "--recount", "--ignore-whitespace", "-C1", "--whitespace=nowarn"]
GNU_PATCH = ["patch", "-p1", "--fuzz=3", "-l", "--batch", "--forward", "--no-backup-if-mismatch", "--silent", "--reject-file=-", "-i"]


@dataclass(frozen=True)
class Case:
    """One real change to one file."""

    source: str
    path: str
    before: bytes
    after: bytes


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
            yield Case(f"{repo.name}@{c[:8]}", p, before, after)


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


def git_diff(case: Case, work: Path) -> str:
    """The change as `git diff` writes it (a/ b/ prefixes, 3 lines of context, function headings)."""
    for side, data in (("a", case.before), ("b", case.after)):
        target = work / side / case.path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    run = subprocess.run(
        ["git", "diff", "--no-index", "--no-color", "--no-ext-diff", "--no-prefix", "-U3", f"a/{case.path}", f"b/{case.path}"],
        cwd=work,
        capture_output=True,
    )
    shutil.rmtree(work / "a")
    shutil.rmtree(work / "b")
    return run.stdout.decode("utf-8")


# Damage ---------------------------------------------------------------------------------------

_HEADER = re.compile(r"(?m)^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


def _headers(diff: str, make: Callable[[int, re.Match[str]], str]) -> str:
    counter = iter(range(1_000_000))
    return _HEADER.sub(lambda m: make(next(counter), m), diff)


def wrong_numbers(diff: str) -> str:
    """Every hunk's line numbers off by a different amount, up to 11 lines either way (an LLM counting lines)."""

    def shifted(k: int, m: re.Match[str]) -> str:
        off = (k * 37) % 23 - 11
        return f"@@ -{max(1, int(m[1]) + off)},{m[2] or 1} +{max(1, int(m[3]) + off)},{m[4] or 1} @@{m[5]}"

    return _headers(diff, shifted)


def wrong_counts(diff: str) -> str:
    return _headers(diff, lambda k, m: f"@@ -{m[1]},{int(m[2] or 1) + 2} +{m[3]},{max(0, int(m[4] or 1) - 1)} @@{m[5]}")


def no_numbers(diff: str) -> str:
    return _headers(diff, lambda k, m: "@@")


def blank_context_stripped(diff: str) -> str:
    return re.sub(r"(?m)^ $", "", diff)


def trailing_spaces_stripped(diff: str) -> str:
    return re.sub(r"(?m)^( .*?)[ \t]+$", r"\1", diff)


def crlf(diff: str) -> str:
    return diff.replace("\n", "\r\n")


def fenced_with_prose(diff: str) -> str:
    """In a fence with prose around it, and without its final newline (as a DOM code block gives it)."""
    fence = "`" * max(3, 1 + max((len(m) for m in re.findall(r"`+", diff)), default=0))
    return f"Here is the fix for the issue:\n\n{fence}diff\n{diff.rstrip(chr(10))}\n{fence}\n\nThis keeps the behaviour otherwise."


def everything(diff: str) -> str:
    return crlf(fenced_with_prose(trailing_spaces_stripped(blank_context_stripped(no_numbers(diff)))))


VARIANTS: dict[str, Callable[[str], str]] = {
    "clean": lambda d: d,
    "wrong line numbers": wrong_numbers,
    "no line numbers": no_numbers,
    "wrong counts": wrong_counts,
    "blank context stripped": blank_context_stripped,
    "trailing spaces stripped": trailing_spaces_stripped,
    "CRLF": crlf,
    "fenced with prose": fenced_with_prose,
    "tabs to spaces": tabs_to_spaces,
    "all at once": everything,
}


# Tools ----------------------------------------------------------------------------------------


def _tree(work: Path, case: Case) -> Path:
    root = work / "tree"
    if root.exists():
        shutil.rmtree(root)
    (root / case.path).parent.mkdir(parents=True, exist_ok=True)
    (root / case.path).write_bytes(case.before)
    return root


def _external(command: list[str], work: Path, case: Case, payload: str) -> tuple[bool, bytes]:
    root = _tree(work, case)
    patch = work / "payload.patch"
    patch.write_bytes(payload.encode("utf-8"))
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(work)}
    run = subprocess.run([*command, str(patch)], cwd=root, capture_output=True, env=env)
    target = root / case.path
    return run.returncode == 0, target.read_bytes() if target.exists() else b""


def ours(work: Path, case: Case, payload: str) -> tuple[bool, bytes]:
    root = _tree(work, case)
    result = apply_payload(root, payload)
    target = root / case.path
    return result.ok, target.read_bytes() if target.exists() else b""


TOOLS: dict[str, Callable[[Path, Case, str], tuple[bool, bytes]]] = {
    "ours": ours,
    "git apply": lambda work, case, payload: _external(GIT_APPLY, work, case, payload),
    "GNU patch": lambda work, case, payload: _external(GNU_PATCH, work, case, payload),
}


def outcome(ok: bool, result: bytes, case: Case) -> str:
    if ok:
        return "exact" if result == case.after else "silent"
    return "refused" if result == case.before else "partial"


# Run ------------------------------------------------------------------------------------------


def corpus(args: argparse.Namespace) -> list[Case]:
    sources: list[Iterator[Case]] = [history_cases(Path(r).resolve()) for r in args.repo or [ROOT]]
    sources += [tree_cases(Path(old).resolve(), Path(new).resolve()) for old, new in args.trees or []]
    cases: list[Case] = []
    for source in sources:
        for case in source:
            if len(cases) >= args.limit:
                return cases
            cases.append(case)
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", action="append", help="a git repository whose history is the corpus (repeatable; default: this one)")
    parser.add_argument("--trees", nargs=2, action="append", metavar=("OLD", "NEW"), help="two releases of a source tree (repeatable)")
    parser.add_argument("--limit", type=int, default=200, help="at most this many per-file changes (default 200)")
    parser.add_argument("--show", type=int, default=0, help="print this many of our non-exact results")
    args = parser.parse_args()
    if shutil.which("patch") is None:
        sys.exit("GNU patch is missing: apt-get install -y patch")

    from loguru import logger

    logger.remove()
    cases = corpus(args)
    if not cases:
        sys.exit("no modified text files found in the given history")
    counts: dict[str, Counter[str]] = {tool: Counter() for tool in TOOLS}
    by_variant: dict[str, dict[str, Counter[str]]] = {tool: defaultdict(Counter) for tool in TOOLS}
    seconds: dict[str, float] = defaultdict(float)
    shown = 0
    hunks = 0
    with tempfile.TemporaryDirectory(prefix="applier-bench-") as tmp:
        work = Path(tmp)
        for case in cases:
            diff = git_diff(case, work)
            hunks += len(_HEADER.findall(diff))
            for variant, damage in VARIANTS.items():
                payload = damage(diff)
                if variant != "clean" and payload == diff:
                    continue  # this damage does not apply to this diff
                for tool, run in TOOLS.items():
                    started = time.perf_counter()
                    ok, result = run(work, case, payload)
                    seconds[tool] += time.perf_counter() - started
                    kind = outcome(ok, result, case)
                    counts[tool][kind] += 1
                    by_variant[tool][variant][kind] += 1
                    if tool == "ours" and kind != "exact" and shown < args.show:
                        shown += 1
                        print(f"--- ours: {kind} on {case.source} {case.path} [{variant}]")
                        print(apply_payload(_tree(work, case), payload).error)
    report(cases, hunks, counts, by_variant, seconds)


def report(
    cases: list[Case],
    hunks: int,
    counts: dict[str, Counter[str]],
    by_variant: dict[str, dict[str, Counter[str]]],
    seconds: dict[str, float],
) -> None:
    sources = Counter(c.source.split("@")[0] for c in cases)
    kinds = Counter(Path(c.path).suffix or Path(c.path).name for c in cases)
    print(f"corpus: {len(cases)} real per-file changes, {hunks} hunks, from {dict(sources)}")
    print(f"file kinds: {dict(kinds.most_common(8))}")
    runs = sum(counts["ours"].values())
    print(f"variants applied per tool: {runs}\n")
    print(f"{'tool':<11}{'exact':>9}{'exact %':>9}{'refused':>9}{'partial':>9}{'silent':>9}{'ms/run':>9}")
    for tool, c in counts.items():
        rate, ms = 100 * c["exact"] / runs, 1000 * seconds[tool] / runs
        print(f"{tool:<11}{c['exact']:>9}{rate:>8.1f}%{c['refused']:>9}{c['partial']:>9}{c['silent']:>9}{ms:>9.2f}")
    print("\nexact % by damage (runs)")
    variants = list(by_variant["ours"])
    print(f"{'damage':<26}" + "".join(f"{tool:>12}" for tool in counts) + f"{'runs':>7}")
    for variant in variants:
        total = sum(by_variant["ours"][variant].values())
        cells = "".join(f"{100 * by_variant[t][variant]['exact'] / total:>11.1f}%" for t in counts)
        print(f"{variant:<26}{cells}{total:>7}")
    print("\nsilent damage by damage")
    for variant in variants:
        print(f"{variant:<26}" + "".join(f"{by_variant[t][variant]['silent']:>12}" for t in counts))


if __name__ == "__main__":
    main()
