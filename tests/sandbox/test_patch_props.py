"""Properties on real files: random edits of the example crate's files, rendered in every carrier and damage kind
(tests/support/damage.py), give the exact new tree where the text has one reading, and never a wrong tree."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sandbox.patch import apply_payload
from tests.support.damage import KINDS, Change, git_diff

CRATE = Path(__file__).resolve().parents[2] / "examples" / "trade_report"
REAL = sorted(p.relative_to(CRATE).as_posix() for p in CRATE.rglob("*") if p.is_file() and p.suffix in (".rs", ".md", ".toml"))
TEXTS = {path: (CRATE / path).read_text(encoding="utf-8") for path in REAL}
FRESH = ["    let added = {k};", "fn added_{k}() {{}}", "", "}}", "\tlet tabbed = {k};", "Added line {k}.", "x = {k}"]


@st.composite
def edited(draw: st.DrawFn, text: str) -> str:
    """`text` after a few random insertions, deletions and replacements, new lines fresh or copied from the file."""
    lines = text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")
    own = [t for t in lines if t.strip()] or ["x"]
    for op in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(lines)))
        cut = draw(st.integers(min_value=0, max_value=min(4, len(lines) - at)))
        size = draw(st.integers(min_value=0 if cut else 1, max_value=3))
        new = [
            draw(st.sampled_from(own)) if draw(st.booleans()) else draw(st.sampled_from(FRESH)).format(k=op * 10 + k)
            for k in range(size)
        ]
        lines[at : at + cut] = new
    return "".join(f"{line}\n" for line in lines)


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data(), path=st.sampled_from(REAL), kind=st.sampled_from(list(KINDS)))
def test_a_random_edit_of_a_real_file_in_any_carrier_applies_exactly_or_changes_nothing(data: st.DataObject, path: str, kind: str) -> None:
    before = TEXTS[path]
    after = data.draw(edited(before))
    assume(after != before)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rendering = KINDS[kind](Change(path, before, after, git_diff(path, before, after, work), tuple(REAL)))
        assume(rendering is not None)
        assert rendering is not None
        root = work / "tree"
        for name in (*rendering.decoys, "NOTES.md"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(f"another {name}\n")
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(rendering.before)
        untouched = snapshot(root)
        result = apply_payload(root, rendering.payload)
        if result.ok:
            now = snapshot(root)
            assert now == {**untouched, path: now[path]} and rendering.right(now[path].decode()), f"silent damage [{kind}]: {rendering.payload!r}"
        else:
            assert snapshot(root) == untouched, f"refused but changed the tree [{kind}]"
        assert result.ok or not rendering.one_reading, f"lost work [{kind}]: {result.error}; {rendering.payload!r}"
