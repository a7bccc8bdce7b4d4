"""Where a project's dependencies come from, as cargo sees them from the developer's checkout.

Cargo reads `.cargo/config.toml` (or `.cargo/config`) in the folder it runs in and in every folder
above it, then `$CARGO_HOME/config.toml`; nearer files win key by key, and a relative path in a
file is relative to the folder that holds its `.cargo` folder (https://doc.rust-lang.org/cargo/reference/config.html).
A sandboxed build runs at `/workspace`, where none of the checkout's parent folders exist and a
git-ignored `vendor/` or `.cargo/` is absent. So the sources are read here, on the host, from the
checkout and the cargo home (the developer's files, never the workspace's, which patches write),
and every build is handed them as one `--config` file whose local folders are bound read-only at
`/sources/<name>` (or found in the workspace, when the workspace tracks them).
"""

from __future__ import annotations

import json
import os
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, Field

from sandbox.isolation import Mount

SOURCES_ROOT = Path("/sources")
"""Where an isolated run sees the local folders of the dependency sources."""
SOURCES_FILE = Path("/devspace/sources.toml")
"""Where an isolated run sees the generated `--config` file of the sources."""
_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def default_cargo_home() -> Path:
    """`$CARGO_HOME`, else `~/.cargo` (cargo's own rule)."""
    return Path(os.environ.get("CARGO_HOME") or Path.home() / ".cargo").absolute()


class Source(BaseModel):
    """One `[source.<name>]` table as the developer's configuration defines it (paths absolute, on the host)."""

    name: str
    replace_with: str | None = None
    directory: Path | None = None
    local_registry: Path | None = None
    registry: str | None = None
    git: str | None = None
    declared_in: Path | None = None

    @property
    def folder(self) -> Path | None:
        """The local folder this source reads from, if it is one."""
        return self.directory or self.local_registry


class CargoSources(BaseModel):
    """The dependency sources a project's builds use, read from the developer's configuration."""

    cargo_home: Path
    config_files: list[Path] = Field(default_factory=list, description="nearest first, as cargo reads them")
    sources: dict[str, Source] = Field(default_factory=dict)
    registries: dict[str, str] = Field(default_factory=dict, description="`[registries.<name>] index` URLs")
    problems: list[str] = Field(default_factory=list, description="config files that could not be read")

    def registry_cache(self) -> Path:
        """Cargo's download cache of remote registries, in the cargo home."""
        return self.cargo_home / "registry"

    def crates_io(self) -> Source | None:
        """The source that stands for crates.io at the end of its `replace-with` chain, or None when builds read crates.io."""
        chain: list[Source] = []
        name: str | None = "crates-io"
        while name is not None and all(s.name != name for s in chain) and (source := self.sources.get(name)) is not None:
            chain.append(source)
            name = source.replace_with
        end = chain[-1] if chain else None
        return end if end is not None and end.name != "crates-io" else None


def offline_crates(sources: CargoSources) -> tuple[set[tuple[str, str]], str]:
    """The (name, version) pairs of crates.io packages an offline build can read, and where they were looked for."""
    source = sources.crates_io()
    if source is not None and source.directory is not None:
        found = set()
        for manifest in source.directory.glob("*/Cargo.toml"):
            try:
                package = tomllib.loads(manifest.read_text(encoding="utf-8")).get("package") or {}
            except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
                continue
            if isinstance(package.get("name"), str) and isinstance(package.get("version"), str):
                found.add((package["name"], package["version"]))
        return found, f"directory source `{source.directory}`"
    if source is not None and source.local_registry is not None:
        return {_crate_file(p) for p in source.local_registry.glob("*.crate")}, f"local registry `{source.local_registry}`"
    cache = sources.registry_cache() / "cache"
    return {_crate_file(p) for p in cache.glob("*/*.crate")}, f"the registry cache `{cache}`"


def _crate_file(path: Path) -> tuple[str, str]:
    """`serde_json-1.0.87.crate` -> ("serde_json", "1.0.87") (a version starts at the last `-` before a digit)."""
    stem = path.name.removesuffix(".crate")
    match = re.match(r"^(.+?)-(\d+\.\d+\.\d+.*)$", stem)
    return (match[1], match[2]) if match else (stem, "")


def missing_offline(lock_text: str, sources: CargoSources) -> tuple[list[str], str]:
    """The crates.io packages a Cargo.lock names that an offline build cannot read (`name version`), and where it looked."""
    try:
        packages = tomllib.loads(lock_text).get("package") or []
    except tomllib.TOMLDecodeError:
        return [], ""
    wanted = [(p["name"], p["version"]) for p in packages
              if isinstance(p, dict) and str(p.get("source", "")).startswith(("registry+", "sparse+")) and "name" in p and "version" in p]  # fmt: skip
    if not wanted:
        return [], ""
    available, where = offline_crates(sources)
    return [f"{name} {version}" for name, version in wanted if (name, version) not in available], where


def config_files(start: Path, cargo_home: Path) -> list[Path]:
    """The config files cargo reads for a run in `start`, nearest first: each folder's `.cargo/config[.toml]`, then the
    cargo home's (once, if an ancestor already is the cargo home's parent)."""
    found: list[Path] = []
    for folder in [start, *start.parents]:
        file = _config_in(folder / ".cargo")
        if file is not None:
            found.append(file)
    home = _config_in(cargo_home)
    if home is not None and all(home.resolve() != f.resolve() for f in found):
        found.append(home)
    return found


def _config_in(folder: Path) -> Path | None:
    for name in ("config", "config.toml"):  # cargo prefers the file without the extension when both exist
        path = folder / name
        if path.is_file():
            return path
    return None


def discover(checkout: Path, cargo_home: Path | None = None) -> CargoSources:
    """The sources, registries and config files cargo uses for the checkout at `checkout` (nearer files win key by key)."""
    home = (cargo_home or default_cargo_home()).absolute()
    files = config_files(checkout.resolve(), home)
    out = CargoSources(cargo_home=home, config_files=files)
    for file in reversed(files):  # farthest first, so nearer files overwrite key by key
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            out.problems.append(f"{file}: {exc}")
            continue
        base = file.parent.parent
        for name, table in (data.get("source") or {}).items():
            if not isinstance(table, dict):
                continue
            known = out.sources.get(name) or Source(name=name)
            update: dict[str, object] = {"declared_in": file}
            for key, field in (("replace-with", "replace_with"), ("registry", "registry"), ("git", "git")):
                if isinstance(table.get(key), str):
                    update[field] = table[key]
            for key, field in (("directory", "directory"), ("local-registry", "local_registry")):
                if isinstance(table.get(key), str):
                    update[field] = (base / table[key]).resolve()
            out.sources[name] = known.model_copy(update=update)
        for name, table in (data.get("registries") or {}).items():
            if isinstance(table, dict) and isinstance(table.get("index"), str):
                out.registries[name] = table["index"]
    return out


class SourcesView(BaseModel):
    """What one cargo run is shown of the sources: read-only binds (isolated) and the text of one `--config` file."""

    mounts: list[Mount] = Field(default_factory=list)
    config_text: str = ""


class Dependencies(BaseModel):
    """Everything a cargo run needs to find a project's dependencies: the cargo home whose caches it reads, and the
    sources as the developer's checkout configures them."""

    cargo_home: Path
    checkout: Path
    sources: CargoSources
    in_workspace: list[str] = Field(default_factory=list, description="source folders (checkout-relative) git tracks files in")

    @classmethod
    def of(cls, checkout: Path, cargo_home: Path | None = None, tracked: Iterable[str] = ()) -> Dependencies:
        """The sources of `checkout`; `tracked` lists its tracked files (posix, relative), so a source folder git tracks
        is read from the workspace and any other from the developer's own folder, whatever a build leaves in the tree."""
        home = (cargo_home or default_cargo_home()).absolute()
        root = checkout.resolve()
        sources = discover(checkout, home)
        files = list(tracked)
        folders = [s.folder.relative_to(root).as_posix() for s in sources.sources.values() if s.folder is not None and s.folder.is_relative_to(root)]
        kept = [f for f in folders if f != "." and any(t.startswith(f"{f}/") for t in files)]
        return cls(cargo_home=home, checkout=root, sources=sources, in_workspace=kept)

    def view(self, tree_in_sandbox: Path | None) -> SourcesView:
        """The sources as a build of the tree seen at `tree_in_sandbox` sees them (None: unisolated, every folder at its
        host path). A local folder git tracks is read in the tree (so a patch to it counts); any other (a git-ignored
        `vendor/`, a folder under /tmp, Debian's registry) is bound read-only at /sources/<name>. Only `[source]` and
        `[registries] index` are carried over: no token, no credential provider."""
        mounts: list[Mount] = []
        lines: list[str] = []
        for source in self.sources.sources.values():
            lines.append(f"[source.{_toml_string(source.name)}]")
            for key, value in (("replace-with", source.replace_with), ("registry", source.registry), ("git", source.git)):
                if value:
                    lines.append(f"{key} = {_toml_string(value)}")
            folder = source.folder
            if folder is not None:
                seen = folder
                if tree_in_sandbox is not None:
                    seen = self._seen_at(folder, tree_in_sandbox) or SOURCES_ROOT / _NAME.sub("_", source.name)
                    if seen.is_relative_to(SOURCES_ROOT) and folder.is_dir():
                        mounts.append(Mount.ro(folder, seen))
                key = "directory" if source.directory is not None else "local-registry"
                lines.append(f"{key} = {_toml_string(str(seen))}")
            lines.append("")
        for name, index in self.sources.registries.items():
            lines += [f"[registries.{_toml_string(name)}]", f"index = {_toml_string(index)}", ""]
        return SourcesView(mounts=mounts, config_text="\n".join(lines))

    def _seen_at(self, folder: Path, tree_in_sandbox: Path) -> Path | None:
        """Where the workspace holds `folder` of the checkout, when git tracks it there (a committed `vendor/`)."""
        if not folder.is_relative_to(self.checkout):
            return None
        rel = folder.relative_to(self.checkout).as_posix()
        return tree_in_sandbox / rel if rel in self.in_workspace else None


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a TOML basic string
