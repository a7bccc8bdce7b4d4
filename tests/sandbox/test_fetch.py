"""The fetch stage against a real sparse registry: a local HTTP server the test starts, serving cargo's index layout
and .crate files built from Debian's crate sources, configured as a source replacement for crates.io.

Builds stay offline; only `cargo fetch` reaches the server, under the developer's policy, and never with a secret.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from bridge.attempts import try_patch
from bridge.config import RulesSettings
from sandbox.config import SandboxConfig
from sandbox.local import LocalExecutor
from sandbox.operations import OPERATIONS, FetchRequest
from sandbox.summary import summarize_fetch
from tests.support.registry import DEBIAN_REGISTRY, Registry, serve_registry

pytestmark = pytest.mark.cargo
ITOA = sorted(DEBIAN_REGISTRY.glob("itoa-1.*"))
IDENTITY = git.Actor("DevSpace Tests", "tests@devspace.local")
SECRET = "devspace-secret-token-4711"

if not ITOA:
    pytest.skip("Debian's itoa sources are not installed (scripts/setup installs librust-itoa-dev)", allow_module_level=True)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    """A sparse registry served over HTTP on loopback, holding itoa (from Debian's sources)."""
    with serve_registry(tmp_path / "registry", [ITOA[-1]]) as served:
        yield served


@pytest.fixture
def cargo_home(tmp_path: Path, registry: Registry) -> Path:
    """The sandbox's cargo home, whose config.toml replaces crates.io with the mirror."""
    home = tmp_path / "cargo-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[source.crates-io]\nreplace-with = "mirror"\n\n[source.mirror]\nregistry = "{registry.index}"\n'
    )
    return home


def make_project(root: Path) -> Path:
    """A std-only crate with a Cargo.lock, committed."""
    (root / "src").mkdir(parents=True)
    (root / "Cargo.toml").write_text('[package]\nname = "fetchcrate"\nversion = "0.1.0"\nedition = "2021"\n\n[dependencies]\n')
    (root / "src" / "lib.rs").write_text(
        "pub fn show(n: u64) -> String {\n    n.to_string()\n}\n\n#[test]\nfn shows() {\n    assert_eq!(show(42), \"42\");\n}\n"
    )
    (root / ".gitignore").write_text("target/\n")
    subprocess.run(["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True)
    repo = git.Repo.init(root)
    repo.git.add("--all")
    repo.index.commit("initial", author=IDENTITY, committer=IDENTITY)
    return root


def replace(path: str, old: str, new: str) -> str:
    return f"{path}\n```\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n```\n"


def add_dependency(line: str) -> str:
    return replace("Cargo.toml", "[dependencies]", f"[dependencies]\n{line}") + replace(
        "src/lib.rs", "    n.to_string()", "    itoa::Buffer::new().format(n).to_owned()"
    )


ADD_ITOA = add_dependency('itoa = "1"')


@pytest.fixture
def executor(tmp_path: Path, cargo_home: Path) -> Iterator[LocalExecutor]:
    project = make_project(tmp_path / "fetchcrate")
    ex = LocalExecutor(project, SandboxConfig(home=tmp_path / "devspace", cargo_home=cargo_home))
    yield ex
    ex.close()


def attempt(executor: LocalExecutor, payload: str, policy: str):  # type: ignore[no-untyped-def]
    return try_patch(executor, payload, file_id=None, test_filter=None, budget=2000, fetch=policy)  # type: ignore[arg-type]


def test_allow_fetches_the_new_crate_from_the_mirror_and_the_patch_passes(executor: LocalExecutor, registry: Registry, cargo_home: Path) -> None:
    result = attempt(executor, ADD_ITOA, "allow")
    assert result.ok, result.summary
    assert "fetch: ok" in result.summary and "downloaded itoa" in result.summary
    assert any(r.endswith(".crate") for r in registry.requests)
    assert list((cargo_home / "registry" / "cache").glob("*/itoa-*.crate"))
    assert "itoa" in (executor.ws.tree / "Cargo.lock").read_text()


def test_ask_tells_the_developer_and_the_fetch_verb_then_passes(executor: LocalExecutor, registry: Registry) -> None:
    asked = attempt(executor, ADD_ITOA, "ask")
    assert asked.environment and not asked.ok
    assert "`itoa`" in asked.summary and "`@agent fetch`" in asked.summary
    assert registry.requests == []  # nothing fetched before the developer says so
    fetched = executor.run(FetchRequest())
    assert fetched.ok and fetched.check is not None and fetched.check.ok, fetched
    assert fetched.downloaded and fetched.downloaded[0].startswith("itoa ")


def test_deny_escalates_without_any_network_use(executor: LocalExecutor, registry: Registry) -> None:
    denied = attempt(executor, ADD_ITOA, "deny")
    assert denied.environment and not denied.ok
    assert "@agent fetch" not in denied.summary
    assert registry.requests == []


@pytest.mark.parametrize(
    "line",
    [
        'itoa = { git = "{url}itoa.git" }',
        'itoa = { version = "1", registry = "elsewhere" }',
        'itoa = { version = "1", registry-index = "sparse+{url}" }',
        'itoa = { path = "../../outside" }',
    ],
    ids=["git", "unknown-registry", "registry-index", "path-outside"],
)
def test_a_source_outside_the_configured_ones_is_refused_before_any_network_use(
    executor: LocalExecutor, registry: Registry, line: str
) -> None:
    assert executor.apply(add_dependency(line.replace("{url}", registry.url))).ok
    result = executor.run(FetchRequest())
    assert not result.ok and result.check is None
    assert len(result.refused) == 1 and "Cargo.toml` [dependencies] `itoa`" in result.refused[0], result.refused
    assert "REFUSED before any network use" in summarize_fetch(result)
    assert registry.requests == []


def test_a_git_source_in_a_workspace_member_or_the_lock_file_is_refused(executor: LocalExecutor, registry: Registry) -> None:
    member = replace("Cargo.toml", "[dependencies]", '[workspace]\nmembers = ["inner"]\n\n[dependencies]')
    member += f'inner/Cargo.toml\n```toml\n[package]\nname = "inner"\nversion = "0.1.0"\n\n[dependencies]\nitoa = {{ git = "{registry.url}x.git" }}\n```\n'
    member += "inner/src/lib.rs\n```rust\npub fn f() {}\n```\n"
    assert executor.apply(member).ok
    refused = executor.run(FetchRequest())
    assert any("inner/Cargo.toml" in line and "git" in line for line in refused.refused), refused
    assert registry.requests == []


def test_the_fetch_never_sees_a_secret(executor: LocalExecutor, registry: Registry, cargo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The registry asks for authentication; the token the bridge's environment holds must never reach it."""
    (cargo_home / "config.toml").write_text(
        f'[registries.mirror]\nindex = "sparse+{registry.url}"\n\n[source.crates-io]\nreplace-with = "mirror"\n'
    )
    for variable in ("CARGO_REGISTRIES_MIRROR_TOKEN", "CARGO_REGISTRY_TOKEN", "DEVSPACE_SANDBOX_TOKEN"):
        monkeypatch.setenv(variable, SECRET)
    monkeypatch.setenv("CARGO_REGISTRY_GLOBAL_CREDENTIAL_PROVIDERS", "cargo:token")  # what would hand cargo the token
    served = registry.root / "config.json"
    served.write_text(json.dumps({**json.loads(served.read_text()), "auth-required": True}))
    registry.auth_required = True
    ex = LocalExecutor(executor.ws.project, executor.config)  # reads the cargo home's new configuration
    try:
        assert ex.apply(ADD_ITOA).ok
        fetched = ex.run(FetchRequest())
    finally:
        ex.close()
    assert registry.requests, "the fetch reached the registry"
    assert all(SECRET not in h for h in registry.headers)
    assert not fetched.ok and "credential" in fetched.detail, fetched


def test_builds_stay_offline_after_a_fetch(executor: LocalExecutor, registry: Registry) -> None:
    assert attempt(executor, ADD_ITOA, "allow").ok
    registry.requests.clear()
    check = executor.check_degradation()
    assert check.ok and registry.requests == []


def test_fetch_is_the_developers_only() -> None:
    assert OPERATIONS["fetch"].roles == ("developer",)
    with pytest.raises(ValueError, match="developer's only"):
        RulesSettings(permissions={"fetch": ["developer", "assistant"]})


def test_in_the_chat_ask_tells_the_developer_the_assistant_may_not_fetch_and_the_developers_fetch_passes(
    tmp_path: Path, cargo_home: Path, registry: Registry
) -> None:
    from bridge.config import load_settings
    from bridge.journal import Journal
    from bridge.orchestrator import Orchestrator
    from tests.support.conversation import Chat

    project = make_project(tmp_path / "chatcrate")
    settings = load_settings(
        home=tmp_path / "home", project=project, llm={"api_key": None}, sandbox={"cargo_home": cargo_home, "fetch": "ask"}
    )
    executor = LocalExecutor(project, settings.sandbox_config())
    chat = Chat(Orchestrator(executor, Journal(settings.home / "journal.db"), settings, None))
    try:
        asked = "\n".join(chat.say("developer", f"@agent code improvement\n{ADD_ITOA}"))
        assert "`itoa`" in asked and "`@agent fetch`" in asked
        assert registry.requests == []
        refused = "\n".join(chat.say("assistant", "@agent fetch"))
        assert "not allowed for the assistant" in refused and registry.requests == []
        fetched = "\n".join(chat.say("developer", "@agent fetch"))
        assert "fetch: ok" in fetched and "downloaded itoa" in fetched, fetched
        assert "FAILED" not in fetched and "BLOCKED" not in fetched, fetched
    finally:
        executor.close()


# `python -m sandbox fetch`: the same stage for a checkout it may not write (the compose service `fetch`) -------------
def committed_dependency(project: Path, line: str) -> Path:
    """The crate at `project` depending on `line` and using itoa, committed; its Cargo.lock left as it was (no itoa)."""
    manifest, lib = project / "Cargo.toml", project / "src" / "lib.rs"
    manifest.write_text(manifest.read_text().replace("[dependencies]\n", f"[dependencies]\n{line}\n"))
    lib.write_text(lib.read_text().replace("    n.to_string()", "    itoa::Buffer::new().format(n).to_owned()"))
    repo = git.Repo(project)
    repo.git.add("--all")
    repo.index.commit("depend on itoa", author=IDENTITY, committer=IDENTITY)
    return project


def fetch_cli(project: Path, cargo_home: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEVSPACE_SANDBOX__CARGO_HOME": str(cargo_home), "DEVSPACE_HOME": str(tmp_path / "devspace")}
    argv = [sys.executable, "-m", "sandbox", "fetch", "--project", str(project)]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False)


def snapshot(tree: Path) -> dict[str, bytes]:
    return {p.relative_to(tree).as_posix(): p.read_bytes() for p in sorted(tree.rglob("*")) if p.is_file() and ".git" not in p.parts}


def test_the_fetch_command_fills_the_cargo_home_builds_read_and_never_writes_the_checkout(
    tmp_path: Path, cargo_home: Path, registry: Registry
) -> None:
    project = committed_dependency(make_project(tmp_path / "cli"), 'itoa = "1"')
    before = snapshot(project)
    done = fetch_cli(project, cargo_home, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "fetch: ok" in done.stdout and "downloaded itoa" in done.stdout, done.stdout
    assert list((cargo_home / "registry" / "cache").glob("*/itoa-*.crate"))
    assert snapshot(project) == before  # cargo wrote its Cargo.lock into the scratch copy only
    registry.requests.clear()
    ex = LocalExecutor(project, SandboxConfig(home=tmp_path / "devspace", cargo_home=cargo_home))
    try:
        built = ex.check_compile()
    finally:
        ex.close()
    assert built.ok, built.error
    assert registry.requests == []  # the build read the cargo home offline


def test_the_fetch_command_refuses_a_git_source_before_any_network_use(tmp_path: Path, cargo_home: Path, registry: Registry) -> None:
    project = committed_dependency(make_project(tmp_path / "cli"), f'itoa = {{ git = "{registry.url}itoa.git" }}')
    done = fetch_cli(project, cargo_home, tmp_path)
    assert done.returncode == 1
    assert "REFUSED before any network use" in done.stdout and "`Cargo.toml` [dependencies] `itoa`: a git dependency" in done.stdout, done.stdout
    assert registry.requests == [] and not (cargo_home / "registry").exists()


def test_the_fetch_command_needs_a_rust_project(tmp_path: Path, cargo_home: Path) -> None:
    done = fetch_cli(tmp_path, cargo_home, tmp_path)
    assert done.returncode == 2 and f"error: no Cargo.toml in {tmp_path}" in done.stderr
