"""The executor's one git entry point: drivers a repository configures never run, and every git process the
executor starts (GitPython's own included) goes through it (real git, real repositories)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import git
import pytest

from sandbox import gitops
from sandbox.config import SandboxConfig
from sandbox.local import LocalExecutor
from sandbox.models import Identity
from sandbox.safegit import ENV_BINARY, open_project

DEV = Identity(name="Dev", email="dev@example.com")


def _armed_repo(root: Path, marker: Path) -> Path:
    """A repository whose own config defines a filter, a diff and a merge driver that each leave a mark, and whose
    `.gitattributes` selects them for every file (what git-lfs or git-crypt look like, with a hostile command)."""
    repo = git.Repo.init(root, initial_branch="main")
    with repo.config_writer() as config:
        for section, key in (("filter", "clean"), ("filter", "smudge"), ("diff", "textconv"), ("diff", "command"), ("merge", "driver")):
            config.set_value(f'{section} "armed"', key, f"echo {section}.{key} >> {marker}; cat")
        config.set_value("user", "name", "Dev")
        config.set_value("user", "email", "dev@example.com")
    (root / ".gitattributes").write_text("* filter=armed diff=armed merge=armed\n")
    (root / "a.txt").write_text("one\n")
    return root


def test_drivers_the_repository_configures_do_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran.txt"
    root = _armed_repo(tmp_path / "repo", marker)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True, capture_output=True)
    assert marker.exists(), "the control: plain git runs the configured clean filter"
    marker.unlink()
    repo = open_project(root)
    repo.git.add("--all")
    first = repo.commit_index("one", author=git.Actor("Dev", "d@x"), committer=git.Actor("Dev", "d@x"))
    (root / "a.txt").write_text("two\n")
    repo.git.add("--all")
    second = repo.commit_index("two", author=git.Actor("Dev", "d@x"), committer=git.Actor("Dev", "d@x"))
    assert gitops.changed_files(repo, second.hexsha) == ["a.txt"]
    repo.git.status("--porcelain")
    gitops.revert_commit(repo, second.hexsha, DEV)
    repo.git.checkout("--force", first.hexsha)
    assert not marker.exists(), marker.read_text()
    assert (root / "a.txt").read_text() == "one\n"


def test_every_git_process_of_the_executor_is_hardened(crate_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every git process started while the executor applies, lists, reads, commits and undoes is `env -i … git -c …`."""
    started: list[list[str]] = []
    real_init = subprocess.Popen.__init__

    def record(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        started.append([str(a) for a in args] if isinstance(args, list | tuple) else [str(args)])
        real_init(self, args, *rest, **kwargs)

    executor = LocalExecutor(crate_copy, SandboxConfig(home=tmp_path / "home"))
    monkeypatch.setattr(subprocess.Popen, "__init__", record)
    assert executor.apply("`src/extra.rs`:\n```rust\npub fn extra() {}\n```\n").ok
    executor.files()
    executor.get_code(path="src/extra.rs")
    executor.status()
    executor.commit("extra", DEV)
    executor.undo()
    executor.close()
    gits = [argv for argv in started if any(Path(a).name == "git" for a in argv)]
    assert len(gits) >= 5
    for argv in gits:
        assert argv[:2] == [ENV_BINARY, "-i"], argv
        git_at = next(i for i, a in enumerate(argv) if "=" not in a and i > 1)
        assert Path(argv[git_at]).name == "git" and argv[git_at + 1 : git_at + 3] == ["-c", "core.fsmonitor=false"], argv
