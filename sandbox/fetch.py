"""Dependency provisioning as its own stage: `cargo fetch`, the only cargo run that may use the network.

Builds and tests stay offline (`sandbox.cargo`). When a patch adds a dependency nobody has offline, the fetch stage
downloads it into the cargo home the sandbox reads (`sandbox.cargo_home`), under the developer's policy
(`sandbox.fetch`: ask, allow or deny). The manifest is the patch's, so hostile: before any network use every
dependency source of every manifest of the workspace (members and path dependencies included) and of Cargo.lock is
checked, and anything that is not crates.io, a registry the developer configured (`[registries]`) or a path inside the
workspace is refused. A `git =` URL, a `registry-index` or a `[patch."<url>"]` would make cargo contact any host the
patch names: an exfiltration channel.

The fetch runs in bubblewrap like a build (`sandbox.isolation`), with the network shared and only the cargo home's
`registry/` writable. It sees no secret: the environment is cleaned as a build's, the cargo home's `config.toml` and
`credentials.toml` are not shown (the sources and registries reach it through the generated `--config` file, without
tokens), and the workspace's own `.cargo/` (which a patch could write: a `[source]` towards any URL, a
`rustc-wrapper`) is hidden. `cargo fetch` runs no build script and no proc-macro.

`fetch_checkout` is the same stage for a checkout it may not write (`python -m sandbox fetch`, the compose service
`fetch` that fills the containers' cargo-home volume): it fetches from a scratch copy of the checkout's layout.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import tempfile
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from loguru import logger

from sandbox import proc
from sandbox.cargo import ENV_KEEP, SCRATCH_HOME, WORKSPACE, isolates, rustup_home, toolchain
from sandbox.deps import SOURCES_FILE, CargoSources, Dependencies
from sandbox.environment import classify
from sandbox.isolation import Mount, bwrap_argv, bwrap_path
from sandbox.models import FetchResult
from sandbox.redact import redact

CRATES_IO = ("registry+https://github.com/rust-lang/crates.io-index", "sparse+https://index.crates.io/")
"""How Cargo.lock names crates.io (the git index, the sparse one)."""
DEPENDENCY_TABLES = ("dependencies", "dev-dependencies", "build-dependencies", "dev_dependencies", "build_dependencies")
NETWORK_ETC = ("/etc/resolv.conf", "/etc/ssl", "/etc/ca-certificates", "/etc/pki")
"""What of /etc a download needs: the resolver and the certificate authorities."""
SCRATCH_WHOLE = frozenset({"Cargo.toml", "Cargo.lock", "rust-toolchain", "rust-toolchain.toml"})
"""The files of a checkout a fetch reads (the manifests, the lock file, rustup's toolchain file): whole in its scratch
copy; every other file is there empty, since cargo infers a package's targets from which files exist."""
_DOWNLOADED = re.compile(r"^\s*Downloaded (\S+) v(\S+)", re.M)


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return data


def _inside(path: Path, root: Path) -> bool:
    return path.resolve().is_relative_to(root)


def _tables(manifest: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Every dependency table of one manifest with its name: the package's, per target, the workspace's, `[patch.*]`
    and `[replace]`."""
    for name in DEPENDENCY_TABLES:
        yield name, manifest.get(name)
    for target, table in (manifest.get("target") or {}).items():
        if isinstance(table, dict):
            for name in DEPENDENCY_TABLES:
                yield f"target.{target}.{name}", table.get(name)
    workspace = manifest.get("workspace")
    if isinstance(workspace, dict):
        yield "workspace.dependencies", workspace.get("dependencies")
    for source, table in (manifest.get("patch") or {}).items():
        yield f"patch.{source}", table
    yield "replace", manifest.get("replace")


def vet_sources(tree: Path, sources: CargoSources) -> list[str]:
    """What in the workspace at `tree` would make cargo fetch from anywhere but crates.io, a configured registry or a
    path inside the workspace (one line each; empty: the fetch may run). Reads the root manifest, its workspace members
    and every path dependency's manifest (recursively), and Cargo.lock's `source` lines."""
    root = tree.resolve()
    refused: list[str] = []
    registries = set(sources.registries)
    seen: set[Path] = set()
    queue = [root / "Cargo.toml"]
    while queue:
        manifest_path = queue.pop()
        if manifest_path.resolve() in seen:
            continue
        seen.add(manifest_path.resolve())
        if not _inside(manifest_path, root):  # a link a build left, leading out of the workspace
            refused.append(f"`{manifest_path.relative_to(root).as_posix()}` leads outside the workspace")
            continue
        rel = manifest_path.resolve().relative_to(root).as_posix()
        manifest = _load(manifest_path)
        if manifest is None:
            refused.append(f"`{rel}` cannot be read as TOML")
            continue
        folder = manifest_path.parent
        package = manifest.get("package")
        if isinstance(package, dict) and isinstance(package.get("workspace"), str) and not _inside(folder / package["workspace"], root):
            refused.append(f"`{rel}`: `package.workspace` points outside the workspace")
        workspace = manifest.get("workspace")
        for member in (workspace.get("members") or []) if isinstance(workspace, dict) else []:
            for found in sorted(folder.glob(str(member))) if isinstance(member, str) else []:
                if not _inside(found, root):
                    refused.append(f"`{rel}`: workspace member `{member}` is outside the workspace")
                elif (found / "Cargo.toml").is_file():
                    queue.append(found / "Cargo.toml")
        for table_name, table in _tables(manifest):
            if table_name.startswith("patch."):
                source = table_name.removeprefix("patch.")
                if source != "crates-io" and source not in registries:
                    refused.append(f"`{rel}`: `[patch.{source}]` names a source that is neither crates.io nor a configured registry")
            if not isinstance(table, dict):
                continue
            for name, spec in table.items():
                if not isinstance(spec, dict):
                    continue
                where = f"`{rel}` [{table_name}] `{name}`"
                if "git" in spec:
                    refused.append(f"{where}: a git dependency ({spec['git']!s:.100}); only crates.io and configured registries are fetched")
                if "registry-index" in spec:
                    refused.append(f"{where}: `registry-index` names a registry by URL ({spec['registry-index']!s:.100})")
                if "registry" in spec and spec["registry"] not in registries:
                    refused.append(f"{where}: registry `{spec['registry']!s:.100}` is not configured in your cargo configuration")
                if isinstance(spec.get("path"), str):
                    target = folder / spec["path"]
                    if not _inside(target, root):
                        refused.append(f"{where}: path `{spec['path']}` is outside the workspace")
                    elif (target / "Cargo.toml").is_file():
                        queue.append(target / "Cargo.toml")
    refused += _vet_lock(root / "Cargo.lock", sources)
    return list(dict.fromkeys(refused))


def _vet_lock(path: Path, sources: CargoSources) -> list[str]:
    if not path.is_file():
        return []
    lock = _load(path)
    if lock is None:
        return ["`Cargo.lock` cannot be read as TOML"]
    allowed = set(CRATES_IO) | {index if index.startswith("sparse+") else f"registry+{index}" for index in sources.registries.values()}
    out = []
    for package in lock.get("package") or []:
        source = package.get("source") if isinstance(package, dict) else None
        if isinstance(source, str) and source not in allowed:
            out.append(f"`Cargo.lock` `{package.get('name')}`: source `{source:.100}` is neither crates.io nor a configured registry")
    return out


def lock_covers(tree: Path) -> bool:
    """Whether Cargo.lock exists and names every registry dependency the root manifest and its members declare, so the
    fetch can run `--locked`; a patch that added a dependency needs its entry added (cargo keeps every locked version)."""
    lock = _load(tree / "Cargo.lock")
    if lock is None:
        return False
    locked = {p.get("name") for p in lock.get("package") or [] if isinstance(p, dict)}
    root = tree.resolve()
    manifests = [root / "Cargo.toml"]
    workspace = (_load(root / "Cargo.toml") or {}).get("workspace")
    for member in (workspace.get("members") or []) if isinstance(workspace, dict) else []:
        manifests += [m / "Cargo.toml" for m in root.glob(str(member)) if (m / "Cargo.toml").is_file()]
    for manifest_path in manifests:
        for table_name, table in _tables(_load(manifest_path) or {}):
            if table_name.startswith(("patch.", "replace")) or not isinstance(table, dict):
                continue
            for name, spec in table.items():
                if isinstance(spec, dict) and ("path" in spec or spec.get("workspace") is True):
                    continue
                wanted = spec.get("package", name) if isinstance(spec, dict) else name
                if wanted not in locked:
                    return False
    return True


def _network_etc(scratch: Path) -> list[Mount]:
    nsswitch = scratch / "nsswitch.conf"
    nsswitch.write_text("passwd: files\ngroup: files\nhosts: files dns\n", encoding="utf-8")
    nsswitch.chmod(0o644)
    return [*(Mount.ro(Path(p)) for p in NETWORK_ETC if Path(p).exists()), Mount.ro(nsswitch, Path("/etc/nsswitch.conf"))]


def fetch_env(cargo_home: Path, *, isolated: bool) -> dict[str, str]:
    """The fetch's environment: the build's kept variables only (no token, no API key, no proxy credentials), online."""
    extra = {"CARGO_TERM_COLOR": "never", "CARGO_TERM_PROGRESS_WHEN": "never", "RUSTUP_AUTO_INSTALL": "0", "CARGO_HOME": str(cargo_home)}
    if isolated:
        extra["HOME"] = str(SCRATCH_HOME)
        rustup = rustup_home()
        if rustup is not None:
            extra["RUSTUP_HOME"] = str(rustup)
    env = proc.clean_env([k for k in ENV_KEEP if k not in ("CARGO_HOME", "HOME")] + ([] if isolated else ["HOME"]), extra)
    env.setdefault("LANG", "C.UTF-8")
    return env


def fetch(tree: Path, *, deps: Dependencies, isolation: str, timeout: float, output_cap: int, log_path: Path) -> FetchResult:
    """`cargo fetch` in the workspace at `tree`, writing the registry cache of `deps.cargo_home`; refused (nothing run,
    no network used) when `vet_sources` finds a source outside the allowed ones."""
    refused = vet_sources(tree, deps.sources)
    if refused:
        logger.warning(f"fetch refused: {len(refused)} source(s) outside crates.io and the configured registries")
        return FetchResult(ok=False, refused=refused)
    tree = tree.resolve()
    isolated = isolates(isolation)
    home = deps.cargo_home
    try:
        (home / "registry").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return FetchResult(ok=False, detail=f"the cargo home `{home}` cannot be written ({exc.strerror or exc}): fill it where there is network")
    if not os.access(home / "registry", os.W_OK):
        return FetchResult(ok=False, detail=f"the cargo home `{home}` is read-only here: fill it where there is network (see the README)")
    locked = lock_covers(tree)
    view = deps.view(WORKSPACE if isolated else None)
    with tempfile.TemporaryDirectory(prefix="devspace-fetch-") as scratch:
        file = Path(scratch) / "sources.toml"
        file.write_text(view.config_text, encoding="utf-8")
        file.chmod(0o644)
        command = ["cargo", "fetch", *(["--locked"] if locked else []), "--config", str(SOURCES_FILE if isolated else file)]
        argv = command
        if isolated:
            mounts = [Mount.tmpfs(home), Mount.rw(home / "registry")]
            mounts += [Mount.ro(home / "bin")] if (home / "bin").is_dir() else []  # rustup's proxies, never config or credentials
            mounts += [Mount.ro(path) for path in toolchain() if path != home / "bin"]
            mounts += [*view.mounts, Mount.ro(file, SOURCES_FILE), *_network_etc(Path(scratch))]
            mounts += [Mount.rw(tree, WORKSPACE)]
            if os.path.lexists(tree / ".git"):
                mounts.append(Mount.ro(tree / ".git", WORKSPACE / ".git"))
            if (tree / ".cargo").is_dir():
                mounts.append(Mount.tmpfs(WORKSPACE / ".cargo"))
            argv = bwrap_argv(command, mounts, cwd=WORKSPACE, bwrap=bwrap_path() or "bwrap", network=True)
        result = proc.run(argv, cwd=tree, env=fetch_env(home, isolated=isolated), timeout=timeout, output_cap=output_cap)
    stderr = redact(result.stderr)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("a", encoding="utf-8") as fh:
        fh.write(f"$ {' '.join(command)}  (isolated={isolated}, network)\n{redact(result.stdout)}\n--- stderr ---\n{stderr}\n"
                 f"--- exit {result.returncode}{', TIMED OUT' if result.timed_out else ''} in {result.duration:.1f}s ---\n\n")  # fmt: skip
    ok = result.returncode == 0 and not result.timed_out
    environment = None if ok else classify(stderr, timed_out=result.timed_out)
    errors = [line for line in stderr.splitlines() if line.startswith(("error", "Caused by", "  "))]
    detail = "" if ok else ("the fetch ran past its time limit" if result.timed_out else "\n".join(errors[:8])[:1500])
    downloaded = [f"{m[1]} {m[2]}" for m in _DOWNLOADED.finditer(stderr)]
    logger.info(f"cargo fetch: exit {result.returncode} in {result.duration:.1f}s, {len(downloaded)} crate(s) downloaded")
    return FetchResult(ok=ok, locked=locked, downloaded=downloaded, detail=detail, environment=environment, duration=result.duration)


def scratch_copy(checkout: Path, into: Path) -> Path:
    """The layout of the checkout at `checkout` at `into`, for a fetch that may not write the checkout (cargo may write
    Cargo.lock): every folder but `.git` and the top `target/`, the `SCRATCH_WHOLE` files whole, every other regular
    file empty, links as links (so `vet_sources` judges them as in the checkout); FIFOs, sockets and devices are left
    out. Returns `into`."""
    root = checkout.resolve()
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        (into / here.relative_to(root)).mkdir(parents=True, exist_ok=True)
        left_out = {".git", *(["target"] if here == root else [])}
        dirs[:] = [d for d in dirs if d not in left_out]
        for name in [*files, *dirs]:
            if name in left_out:
                continue
            source, target = here / name, into / here.relative_to(root) / name
            mode = source.lstat().st_mode
            if stat.S_ISLNK(mode):
                target.symlink_to(os.readlink(source))
                dirs[:] = [d for d in dirs if d != name]  # a link to a folder stays a link, never walked
            elif stat.S_ISREG(mode) and name in SCRATCH_WHOLE:
                shutil.copyfile(source, target)
            elif stat.S_ISREG(mode):
                target.touch()
    return into


def fetch_checkout(checkout: Path, *, cargo_home: Path | None, isolation: str, timeout: float, output_cap: int, log_path: Path) -> FetchResult:
    """`fetch` for the checkout at `checkout` without writing it, not even its Cargo.lock: from a `scratch_copy`, with
    the sources the checkout's cargo configuration names (its local folders bound read-only, as for builds), into the
    registry cache of `cargo_home` (default: `$CARGO_HOME`, else `~/.cargo`). Raises SandboxError as `fetch` does."""
    deps = Dependencies.of(checkout, cargo_home)
    with tempfile.TemporaryDirectory(prefix="devspace-fetch-tree-") as scratch:
        tree = scratch_copy(checkout, Path(scratch) / "tree")
        return fetch(tree, deps=deps, isolation=isolation, timeout=timeout, output_cap=output_cap, log_path=log_path)
