"""Honest verdicts: whether a failed cargo run is the environment's fault (a dependency not available offline, a
registry out of reach, a missing toolchain, a full disk, a build over the time limit) rather than the code's.

Pure functions over cargo's and rustup's own words (cargo's `error:` blocks with their `location searched:` and
`Caused by:` lines); what a reply says about it lives in `sandbox.summary`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sandbox.models import EnvironmentIssue

_MISSING = re.compile(r"no matching package named `([^`]+)` found")
_NO_VERSION = re.compile(r"failed to select a version for the requirement `([^`=\s]+)\s*=\s*\"([^\"]*)\"`")
_GIT_SOURCE = re.compile(r"failed to load source for dependency `([^`]+)`")
_NOT_DOWNLOADED = re.compile(r"failed to (?:download|get) `([^`\s]+)(?: v[^`]*)?`")
_LOCATION = re.compile(r"^location searched: (.+)$", re.M)
_CANDIDATES = re.compile(r"^candidate versions found which didn't match: (.+)$", re.M)
_UNREACHABLE = re.compile(
    r"(Could not resolve host|Couldn't connect to server|Connection refused|failed to download from `[^`]+`|"
    r"download of config\.json failed|Failed to connect|Operation timed out|SSL connect error|403 Forbidden|"
    r"failed to fetch `[^`]+`|spurious network error)"
)
_OFFLINE_GIT = re.compile(r"can't checkout from '([^']+)': you are in the offline mode")
_TOOLCHAIN = re.compile(r"toolchain '([^']+)' is not installed|syncing channel updates for '?([^'\s]+)'?")
_RUST_VERSION = re.compile(r"rustc ([0-9.]+) is not supported by the following packages?:\s*\n\s*(\S+) requires rustc ([0-9.]+)")
_DISK = re.compile(r"No space left on device|Disk quota exceeded|os error 28")
_BWRAP = re.compile(r"^bwrap: .+$", re.M)
_BUILD_SCRIPT = re.compile(r"^(?:error: )?failed to run custom build command for", re.M)

FETCH_ADVICE = (
    "Make it available offline where the sandbox reads dependencies: `cargo fetch` (or `cargo vendor`) with the cargo "
    "home the sandbox uses (`sandbox.cargo_home`), a directory source in that cargo home's or the project's "
    "`.cargo/config.toml`, or a Debian librust-*-dev package; then `@agent check degradation`."
)


def _where(text: str, paths: Mapping[str, str]) -> str | None:
    found = _LOCATION.search(text)
    if found is None:
        return None
    where = found[1].strip()
    for seen, host in paths.items():
        where = where.replace(seen, host)
    return where


def classify(stderr: str, *, timed_out: bool = False, building: bool = True, paths: Mapping[str, str] | None = None,
             cache: str | None = None) -> EnvironmentIssue | None:
    """The environment's part in a failed run, or None when the failure is the code's.

    `stderr` is cargo's own output (not the compiler's JSON), read up to the output of a failed build script (which
    the code under test writes, so it never makes a verdict the environment's); `building` says the run was compiling (a timeout there
    is the machine's, while a test that runs past the limit is the code's); `paths` maps the sandbox's paths in
    cargo's words back to the host's (`/sources/debian` -> `/usr/share/cargo/registry`); `cache` names the registry
    cache that an offline run reads, for a registry that is not replaced by a local folder.
    """
    paths = paths or {}
    stderr = _BUILD_SCRIPT.split(stderr, maxsplit=1)[0]  # what a build script printed is the code's, never cargo's words
    if _DISK.search(stderr):
        return EnvironmentIssue(
            kind="disk-full", missing=["disk space"], detail=_line(stderr, _DISK),
            advice="Free disk space where the workspace and its target dir live (or the cargo home), then `@agent check degradation`.",
        )
    if m := _TOOLCHAIN.search(stderr):
        name = m[1] or m[2]
        return EnvironmentIssue(
            kind="toolchain-missing", missing=[name], detail=_line(stderr, _TOOLCHAIN),
            advice=f"The project's rust-toolchain file asks for `{name}`: install it (`rustup toolchain install {name.split('-')[0]}`) "
            "where the sandbox runs, then `@agent check degradation`.",
        )
    if m := _RUST_VERSION.search(stderr):
        return EnvironmentIssue(
            kind="toolchain-missing", missing=[f"rustc {m[3]}"], detail=f"{m[2]} requires rustc {m[3]}; the sandbox has rustc {m[1]}",
            advice=f"Install rustc {m[3]} or newer where the sandbox runs (or lower `rust-version`), then `@agent check degradation`.",
        )
    unavailable = _unavailable(stderr, paths, cache)
    if unavailable is not None:
        return unavailable
    if m := _UNREACHABLE.search(stderr):
        return EnvironmentIssue(
            kind="registry-unreachable", missing=[], detail=_line(stderr, _UNREACHABLE), looked_in=_where(stderr, paths),
            advice="The registry could not be reached from the sandbox: check the mirror or registry in your cargo "
            "configuration and that the sandbox's fetch stage may reach it, or provide the crates offline.",
        )
    if m := _BWRAP.search(stderr):
        return EnvironmentIssue(
            kind="sandbox", missing=[], detail=m[0],
            advice="Bubblewrap could not set up the sandbox: see the README's Security section for what the machine must allow.",
        )
    if timed_out and building:
        return EnvironmentIssue(
            kind="timeout", missing=[], detail="the build ran past the time limit",
            advice="Raise `sandbox.limits.timeout` (a cold build of many dependencies takes a while), then `@agent check degradation`.",
        )
    return None


def _unavailable(stderr: str, paths: Mapping[str, str], cache: str | None) -> EnvironmentIssue | None:
    missing = [m[1] for m in _MISSING.finditer(stderr)]
    missing += [f"{m[1]} {m[2]}" for m in _NO_VERSION.finditer(stderr)]
    git = _OFFLINE_GIT.search(stderr)
    if git is not None:
        missing += [m[1] for m in _GIT_SOURCE.finditer(stderr)] or [git[1]]
    if not missing and "--offline" in stderr and (m := _NOT_DOWNLOADED.search(stderr)):
        missing.append(m[1])
    if not missing:
        return None
    where = _where(stderr, paths)
    if git is not None:
        where = f"the git checkouts of the cargo home (offline, {git[1]} cannot be cloned)"
    elif where is not None and cache is not None and ("crates.io index" in where or where.startswith("registry `")):
        where = f"{where}: the registry cache in `{cache}`"
    candidates = _CANDIDATES.search(stderr)
    detail = f"versions there: {candidates[1]}" if candidates else ""
    return EnvironmentIssue(
        kind="dependency-unavailable", missing=list(dict.fromkeys(missing)), looked_in=where, detail=detail, advice=FETCH_ADVICE
    )


def _line(text: str, pattern: re.Pattern[str]) -> str:
    """The whole line `pattern` matched in, trimmed."""
    found = pattern.search(text)
    if found is None:
        return ""
    start = text.rfind("\n", 0, found.start()) + 1
    end = text.find("\n", found.end())
    return text[start : end if end != -1 else len(text)].strip()[:300]
