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

AUTO_ROOTS: tuple[str, ...] = (
    "build.rs", "src/lib.rs", "src/main.rs", "src/bin/*.rs", "src/bin/*/main.rs",
    "tests/*.rs", "tests/*/main.rs", "examples/*.rs", "examples/*/main.rs", "benches/*.rs", "benches/*/main.rs",
)
SKIP_DIRS = frozenset({".git", "target"})
MAX_BYTES = 32 * 1024 * 1024
"""Source text read per package at most; past it, files not read are taken as declaring everything (no note)."""


def undeclared(root: Path, created: Sequence[str]) -> list[str]:
    """The created `.rs` paths (project-relative, `/`-separated) that no target root or module declaration names."""
    return [path for path in created if path.endswith(".rs") and not _declared(root, PurePosixPath(path))]


def _package(root: Path, path: PurePosixPath) -> PurePosixPath | None:
    """The nearest folder above `path` with a `Cargo.toml` (project-relative), or None."""
    for folder in path.parents:
        manifest = root / folder / "Cargo.toml"
        if manifest.is_file() and not manifest.is_symlink():
            return folder
    return None


def _declared(root: Path, path: PurePosixPath) -> bool:
    package = _package(root, path)
    if package is None:
        return True  # not in a cargo package: nothing to say
    inner = path.relative_to(package).as_posix()
    if any(fnmatchcase(inner, pattern) for pattern in AUTO_ROOTS):
        return True
    with (root / package / "Cargo.toml").open("rb") as handle:
        if inner in handle.read(MAX_BYTES).decode(errors="replace"):
            return True  # an explicit target path
    name = path.parent.name if path.name == "mod.rs" else path.stem
    module = re.compile(rf"\bmod\s+(?:r#)?{re.escape(name)}\s*;")
    literal = re.compile(rf"[\"/]{re.escape(path.name)}\"")  # #[path = "…/name.rs"], include!("name.rs")
    budget = MAX_BYTES
    for source in _sources(root / package):
        if source == root / path:
            continue
        try:
            with source.open("rb") as handle:  # at most the budget: a build may have grown a file to gigabytes
                text = handle.read(budget).decode(errors="replace")
        except OSError:
            continue
        budget -= len(text)
        if module.search(text) or literal.search(text) or budget <= 0:
            return True
    return False


def _sources(folder: Path) -> Iterator[Path]:
    """The regular `.rs` files under `folder` (no symbolic link, FIFO or device), outside `.git` and `target`."""
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        for name in sorted(files):
            candidate = Path(current) / name
            if name.endswith(".rs") and not candidate.is_symlink() and candidate.is_file():
                yield candidate
