"""The attach-time look at a project's environment that needs no build: how the sandbox sees the developer's cargo
setup, whether the toolchain the project asks for (`rust-toolchain.toml`) is there, and disk space.

The build part (does the base build, are the dependencies available offline) is `LocalExecutor.preflight`.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

from sandbox import proc
from sandbox.deps import Dependencies, missing_offline

MIN_FREE_BYTES = 2 * 1024**3
"""Free space below which a cold build of a real project may fill the disk."""
TOOLCHAIN_FILES = ("rust-toolchain.toml", "rust-toolchain")


def toolchain_channel(checkout: Path) -> str | None:
    """The channel the project pins (`[toolchain] channel`, or the legacy one-line file), if any."""
    for name in TOOLCHAIN_FILES:
        path = checkout / name
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            channel = (tomllib.loads(text).get("toolchain") or {}).get("channel")
        except tomllib.TOMLDecodeError:
            channel = text.strip().splitlines()[0] if text.strip() else None
        return str(channel) if channel else None
    return None


def _installed_toolchains() -> list[str] | None:
    rustup = shutil.which("rustup")
    if rustup is None:
        return None
    try:
        out = subprocess.run([rustup, "toolchain", "list"], env=proc.clean_env(("PATH", "HOME", "RUSTUP_HOME", "CARGO_HOME")),
                             capture_output=True, text=True, timeout=30, check=False).stdout  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def toolchain_warning(checkout: Path) -> str | None:
    """A warning when the pinned toolchain is not installed (rustup's names: `1.75.0`, `nightly-2024-01-01`, …)."""
    channel = toolchain_channel(checkout)
    if channel is None:
        return None
    installed = _installed_toolchains()
    if installed is None:
        return f"The project pins toolchain `{channel}` (rust-toolchain file), but there is no rustup here to provide it: builds use the system rustc."
    if not any(name == channel or name.startswith(f"{channel}-") for name in installed):
        return f"The project pins toolchain `{channel}`, which is not installed: `rustup toolchain install {channel}` where the sandbox runs."
    return None


def disk_warning(folder: Path) -> str | None:
    free = shutil.disk_usage(folder).free
    if free < MIN_FREE_BYTES:
        return f"Only {free / 1024**3:.1f} GiB free for the workspace and its target dir: a cold build of many dependencies may fill it."
    return None


def source_findings(deps: Dependencies) -> tuple[list[str], list[str]]:
    """(warnings, notes) on the dependency sources: folders that are missing, and local ones the sandbox reads from the
    developer's checkout or from outside it (read-only) rather than from the workspace."""
    warnings = [f"Cargo configuration not readable: {problem}" for problem in deps.sources.problems]
    notes: list[str] = []
    for source in deps.sources.sources.values():
        folder = source.folder
        if folder is None:
            continue
        declared = f" (declared in `{source.declared_in}`)" if source.declared_in else ""
        if not folder.is_dir():
            warnings.append(f"Source `{source.name}`{declared} names `{folder}`, which does not exist: builds cannot read it.")
            continue
        if folder.is_relative_to(deps.checkout):
            rel = folder.relative_to(deps.checkout).as_posix()
            if rel not in deps.in_workspace:
                notes.append(f"`{rel}/` is not tracked by git, so the workspace lacks it: builds read it from your checkout, read-only.")
        else:
            notes.append(f"Builds read source `{source.name}`{declared} from `{folder}`, read-only.")
    config = [f for f in deps.sources.config_files if not f.is_relative_to(deps.checkout)]
    if config:
        notes.append("Cargo configuration read from: " + ", ".join(f"`{f}`" for f in config) + " (its sources only, never credentials).")
    return warnings, notes


def lock_warning(tree: Path, deps: Dependencies) -> str | None:
    """Every crates.io package the tree's Cargo.lock names that is not available offline, at once (cargo's own
    error names only the first)."""
    lock = tree / "Cargo.lock"
    if not lock.is_file() or lock.is_symlink():
        return None
    missing, where = missing_offline(lock.read_text(encoding="utf-8", errors="replace"), deps.sources)
    if not missing:
        return None
    shown = ", ".join(f"`{m}`" for m in missing[:12]) + (f" +{len(missing) - 12} more" if len(missing) > 12 else "")
    return f"{len(missing)} crate(s) of Cargo.lock not available offline in {where}: {shown}."
