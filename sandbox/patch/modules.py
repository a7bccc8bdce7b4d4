"""Which new Rust files no target compiles: neither a target root cargo finds by itself nor named by a module.

Cargo compiles a `.rs` file only when it is a target's root (`src/lib.rs`, `src/main.rs`, `src/bin/*.rs`,
`tests/*.rs`, `examples/*.rs`, `benches/*.rs`, `build.rs`, or a `path` in `Cargo.toml`; the Cargo Book,
"Target auto-discovery") or a module some compiled file declares (`mod name;`, `#[path = "…"]`,
`include!("…")`; the Rust Reference, "Modules"). A new file that is neither is never built, so a check
passes whatever it holds. This reads the package's sources as text: a declaration inside a comment counts, so it
can miss an undeclared file but never calls a declared one undeclared.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from sandbox.treeio import NotARegularFile, read_file, what_is_at

AUTO_ROOTS: tuple[str, ...] = (
    "build.rs", "src/lib.rs", "src/main.rs", "src/bin/*.rs", "src/bin/*/main.rs",
    "tests/*.rs", "tests/*/main.rs", "examples/*.rs", "examples/*/main.rs", "benches/*.rs", "benches/*/main.rs",
)
SKIP_DIRS = frozenset({".git", "target"})
MAX_BYTES = 32 * 1024 * 1024
"""Source text read per package at most; past it, or at a file over `read_file`'s cap, the file is taken as declared."""


def undeclared(root: Path, created: Sequence[str]) -> list[str]:
    """The created `.rs` paths (project-relative, `/`-separated) that no target root or module declaration names."""
    return [path for path in created if path.endswith(".rs") and not _declared(root, PurePosixPath(path))]


def _text(path: Path) -> str | None:
    """A workspace file's text through `read_file` (a build may have written it); None when no regular file is there
    (nothing, a link, a FIFO, a folder); NotARegularFile for one over the cap or replaced while read."""
    if what_is_at(path) is not None:
        return None
    try:
        return read_file(path).decode(errors="replace")
    except FileNotFoundError:
        return None


def _package(root: Path, path: PurePosixPath) -> tuple[PurePosixPath, str] | None:
    """The nearest folder above `path` with a `Cargo.toml` (project-relative) and the manifest's text, or None."""
    for folder in path.parents:
        manifest = _text(root / folder / "Cargo.toml")
        if manifest is not None:
            return folder, manifest
    return None


def _declared(root: Path, path: PurePosixPath) -> bool:
    try:
        found = _package(root, path)
        if found is None:
            return True  # not in a cargo package: nothing to say
        package, manifest = found
        inner = path.relative_to(package).as_posix()
        if any(fnmatchcase(inner, pattern) for pattern in AUTO_ROOTS) or inner in manifest:
            return True  # a root cargo finds by itself, or an explicit target path
        name = path.parent.name if path.name == "mod.rs" else path.stem
        module = re.compile(rf"\bmod\s+(?:r#)?{re.escape(name)}\s*;")
        literal = re.compile(rf"[\"/]{re.escape(path.name)}\"")  # #[path = "…/name.rs"], include!("name.rs")
        budget = MAX_BYTES
        for source in _sources(root / package):
            text = None if source == root / path else _text(source)
            if text is None:
                continue
            budget -= len(text)
            if module.search(text) or literal.search(text) or budget <= 0:
                return True
        return False
    except NotARegularFile:
        return True  # a file over the cap was not read: it may declare this one


def _sources(folder: Path) -> Iterator[Path]:
    """The `.rs` names under `folder`, outside `.git` and `target`, folders' links not followed."""
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        yield from (Path(current) / name for name in sorted(files) if name.endswith(".rs"))
