"""A real crate with registry dependencies (serde_json, itoa), built offline from Debian's crate sources.

Debian's librust-*-dev packages put crate sources under /usr/share/cargo/registry in the layout
`cargo vendor` writes, so a cargo home whose config.toml replaces crates-io with that folder builds
the crate with no network, as a developer's vendored or mirrored setup does.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import git
import pytest

from bridge.attempts import try_patch
from sandbox.config import SandboxConfig
from sandbox.local import LocalExecutor
from sandbox.models import Identity
from sandbox.summary import summarize_check, summarize_preflight

pytestmark = pytest.mark.cargo
DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")
CRATE = Path(__file__).parents[1] / "data" / "depcrate"
IDENTITY = git.Actor("DevSpace Tests", "tests@devspace.local")
NEEDED = ("serde_json", "itoa", "anyhow")

if not all(any(DEBIAN_REGISTRY.glob(f"{name}-*")) for name in NEEDED):
    pytest.skip("Debian's crate sources are not installed (scripts/setup installs librust-serde-json-dev and friends)", allow_module_level=True)

DIRECTORY_SOURCE = f"""[source.crates-io]
replace-with = "debian"

[source.debian]
directory = "{DEBIAN_REGISTRY}"
"""


def replace(path: str, old: str, new: str) -> str:
    return f"{path}\n```\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n```\n"


ADD_ANYHOW = replace("Cargo.toml", 'itoa = "1"', 'anyhow = "1"\nitoa = "1"')
ADD_UNKNOWN = replace("Cargo.toml", 'itoa = "1"', 'itoa = "1"\nleftpad_offline_nowhere = "0.3"')
GOOD_EDIT = replace("src/lib.rs", "    let mut buffer = itoa::Buffer::new();", "    let mut buffer = itoa::Buffer::new(); // one buffer per call")


def make_project(root: Path, *, lock: bool, cargo_home: Path | None = None, ignore: str = "target/\n") -> Path:
    """A git repository holding the crate (with a Cargo.lock made offline when `lock`)."""
    shutil.copytree(CRATE, root)
    (root / ".gitignore").write_text(ignore)
    if lock:
        subprocess.run(
            ["cargo", "generate-lockfile", "--offline"], cwd=root, check=True, capture_output=True,
            env={"PATH": "/usr/bin:/bin:" + str(Path.home() / ".cargo/bin"), "CARGO_HOME": str(cargo_home), "HOME": str(Path.home())},
        )
    repo = git.Repo.init(root)
    repo.git.add("--all")
    repo.index.commit("initial", author=IDENTITY, committer=IDENTITY)
    return root


@pytest.fixture
def cargo_home(tmp_path: Path) -> Path:
    """A developer's cargo home under /tmp (which the sandbox's private /tmp hides) whose config.toml names the sources."""
    home = tmp_path / "cargo-home"
    home.mkdir()
    (home / "config.toml").write_text(DIRECTORY_SOURCE)
    return home


def executor_for(tmp_path: Path, project: Path, cargo_home: Path | None) -> LocalExecutor:
    return LocalExecutor(project, SandboxConfig(home=tmp_path / "devspace", cargo_home=cargo_home))


def test_a_crate_with_registry_dependencies_builds_from_the_cargo_home_config_under_tmp(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    executor = executor_for(tmp_path, project, cargo_home)
    assert executor.apply(GOOD_EDIT).ok
    result = executor.check_degradation()
    assert result.ok, summarize_check(result)
    assert result.environment is None
    assert {t.name for t in result.tests} == {"tests::renders_the_count", "tests::renders_zero"}


def test_the_base_is_built_into_the_workspace_target_not_a_second_cold_one(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    executor = executor_for(tmp_path, project, cargo_home)
    assert executor.apply(GOOD_EDIT).ok
    result = executor.check_degradation()
    assert result.ok and result.base_duration is not None
    assert not executor.ws.base_target.exists()
    # serde_json was compiled once (one rlib for base and workspace alike)
    assert len(list((executor.ws.target / "debug" / "deps").glob("libserde_json-*.rlib"))) == 1
    assert executor.check_degradation().base_duration is None  # the base's results come from the cache


def test_warm_up_computes_the_base_in_place_so_the_first_check_builds_only_the_patch(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    executor = executor_for(tmp_path, project, cargo_home)
    warm = executor.preflight()
    assert warm.ok and warm.base.environment is None and len(warm.base.tests) == 2 and warm.warnings == []
    assert any(str(cargo_home / "config.toml") in note for note in warm.notes)
    assert not executor.ws.base_tree.exists()
    assert executor.apply(GOOD_EDIT).ok
    assert executor.check_degradation().base_duration is None


def test_a_missing_dependency_is_the_environments_and_the_base_fails_the_same_way(tmp_path: Path) -> None:
    empty_home = tmp_path / "empty-cargo-home"
    empty_home.mkdir()
    project = make_project(tmp_path / "depcrate", lock=False)
    executor = executor_for(tmp_path, project, empty_home)
    attempt = try_patch(executor, GOOD_EDIT, file_id=None, test_filter=None, budget=1500)
    check = attempt.check
    assert check is not None and check.environment is not None
    issue = check.environment
    assert issue.kind == "dependency-unavailable" and issue.at_base
    assert set(issue.missing) & {"itoa", "serde_json"}
    assert "crates.io index" in (issue.looked_in or "") and str(empty_home / "registry") in (issue.looked_in or "")
    # not the patch's fault: it stays applied, and the summary says what is missing and where cargo looked
    assert attempt.environment and executor.status().patches == 1
    assert "(missing)" not in attempt.summary and "First error at ?" not in attempt.summary
    assert "not available offline" in attempt.summary and "base commit fails the same way" in attempt.summary


def test_a_patch_adding_an_available_crate_passes(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    executor = executor_for(tmp_path, project, cargo_home)
    attempt = try_patch(executor, ADD_ANYHOW, file_id=None, test_filter=None, budget=1500)
    assert attempt.ok, attempt.summary
    assert "anyhow" in (executor.ws.tree / "Cargo.lock").read_text()
    assert set(executor.status().pending) == {"Cargo.toml", "Cargo.lock"}  # the lock change belongs to the patch


def test_a_patch_adding_an_unavailable_crate_names_it_and_the_base_builds(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    executor = executor_for(tmp_path, project, cargo_home)
    attempt = try_patch(executor, ADD_UNKNOWN, file_id=None, test_filter=None, budget=1500)
    issue = attempt.check.environment if attempt.check else None
    assert issue is not None and issue.missing == ["leftpad_offline_nowhere"] and not issue.at_base
    assert str(DEBIAN_REGISTRY) in (issue.looked_in or "")
    assert "`leftpad_offline_nowhere`" in attempt.summary and str(DEBIAN_REGISTRY) in attempt.summary


def test_a_git_ignored_vendor_folder_is_visible_to_the_sandbox(tmp_path: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=False, ignore="target/\nvendor/\n")
    vendor = project / "vendor"
    vendor.mkdir()
    for name in ("serde_json", "itoa", "ryu", "serde"):
        folder = sorted(DEBIAN_REGISTRY.glob(f"{name}-[0-9]*"))[-1]
        shutil.copytree(folder, vendor / folder.name, symlinks=True)
    (project / ".cargo").mkdir()
    (project / ".cargo" / "config.toml").write_text('[source.crates-io]\nreplace-with = "vendored"\n\n[source.vendored]\ndirectory = "vendor"\n')
    repo = git.Repo(project)
    repo.git.add("--all")
    repo.index.commit("vendored sources (the folder itself is ignored)", author=IDENTITY, committer=IDENTITY)
    empty_home = tmp_path / "empty-cargo-home"
    empty_home.mkdir()
    executor = executor_for(tmp_path, project, empty_home)
    assert not (executor.ws.tree / "vendor").exists()
    (executor.ws.tree / "vendor").mkdir()  # as a build could leave one: ignored, it never stands in for yours
    assert executor.apply(GOOD_EDIT).ok
    result = executor.check_degradation()
    assert result.ok, summarize_check(result)
    assert any("`vendor/` is not tracked by git" in note for note in executor.preflight().notes)


def test_cargo_lock_rolls_back_with_the_patch(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    executor = executor_for(tmp_path, project, cargo_home)
    before = (executor.ws.tree / "Cargo.lock").read_text()
    breaks = ADD_ANYHOW + "\n" + replace("src/lib.rs", "pub fn render(count: u64) -> String {", "pub fn render(count: u64) -> String {\n    let _: anyhow::Result<()> = 1;")
    attempt = try_patch(executor, breaks, file_id=None, test_filter=None, budget=1500)
    assert not attempt.ok and attempt.check is not None and attempt.check.environment is None
    assert (executor.ws.tree / "Cargo.lock").read_text() == before
    assert executor.status().pending == []


def test_undo_restores_the_lock_file_a_build_rewrote(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    executor = executor_for(tmp_path, project, cargo_home)
    assert try_patch(executor, ADD_ANYHOW, file_id=None, test_filter=None, budget=1500).ok
    assert "anyhow" in (executor.ws.tree / "Cargo.lock").read_text()
    executor.undo()
    assert executor.status().pending == []


def test_a_generated_lock_file_is_not_a_pending_change_nor_committed_unasked(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=False)
    executor = executor_for(tmp_path, project, cargo_home)
    assert try_patch(executor, GOOD_EDIT, file_id=None, test_filter=None, budget=1500).ok
    assert (executor.ws.tree / "Cargo.lock").is_file()
    assert executor.status().pending == ["src/lib.rs"]
    result = executor.commit("edit", Identity(name="Dev", email="dev@example.com"))
    assert result.files == ["src/lib.rs"]


@pytest.mark.skipif(shutil.which("rustup") is None, reason="a pinned toolchain is rustup's: without rustup the system rustc builds")
def test_preflight_names_a_pinned_toolchain_that_is_not_installed(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    (project / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "1.60.0"\n')
    repo = git.Repo(project)
    repo.git.add("--all")
    repo.index.commit("pin a toolchain", author=IDENTITY, committer=IDENTITY)
    found = executor_for(tmp_path, project, cargo_home).preflight()
    assert not found.ok and any("`1.60.0`" in w and "not installed" in w for w in found.warnings)
    issue = found.base.environment
    assert issue is not None and issue.kind == "toolchain-missing" and issue.missing == ["1.60.0-x86_64-unknown-linux-gnu"]
    assert "rustup toolchain install 1.60.0" in summarize_preflight(found)


def test_a_test_that_prints_an_environment_error_is_still_the_codes_failure(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    executor = executor_for(tmp_path, project, cargo_home)
    lying = replace("src/lib.rs", "        assert_eq!(render(0), r#\"{\"count\":\"0\"}\"#);",
                    "        panic!(\"error: no matching package named `serde` found; No space left on device\");")  # fmt: skip
    attempt = try_patch(executor, lying, file_id=None, test_filter=None, budget=1500)
    assert attempt.check is not None and attempt.check.environment is None and not attempt.environment
    assert attempt.check.regressions == ["unittests src/lib.rs::tests::renders_zero (failed)"]
    assert executor.status().patches == 0  # rolled back as the patch's failure


def test_preflight_lists_every_locked_crate_not_available_offline(tmp_path: Path, cargo_home: Path) -> None:
    project = make_project(tmp_path / "depcrate", lock=True, cargo_home=cargo_home)
    partial = tmp_path / "partial-cargo-home"
    (partial / "vendor").mkdir(parents=True)
    folder = sorted(DEBIAN_REGISTRY.glob("itoa-[0-9]*"))[-1]
    shutil.copytree(folder, partial / "vendor" / folder.name, symlinks=True)
    (partial / "config.toml").write_text(DIRECTORY_SOURCE.replace(str(DEBIAN_REGISTRY), str(partial / "vendor")))
    found = executor_for(tmp_path, project, partial).preflight()
    warning = next(w for w in found.warnings if "Cargo.lock" in w)
    assert "serde_json 1." in warning and "serde 1." in warning and "ryu 1." in warning and "itoa" not in warning
    assert str(partial / "vendor") in warning
    assert found.base.environment is not None and found.base.environment.kind == "dependency-unavailable"
