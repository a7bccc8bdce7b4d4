"""The example crate, copied into a git repository of its own (the demo, tests and benchmarks)."""

from __future__ import annotations

import shutil
from pathlib import Path

import git

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "trade_report"
DEVELOPER = git.Actor("Demo Developer", "developer@devspace.local")


def copy_example(dest: Path, developer: git.Actor = DEVELOPER) -> Path:
    """`dest` becomes a copy of examples/trade_report with one commit by `developer` (who is also its git user)."""
    if not (EXAMPLE / "Cargo.toml").is_file():
        raise FileNotFoundError(f"the example crate is missing at {EXAMPLE}")
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("target", ".git"))
    repo = git.Repo.init(dest, initial_branch="main")
    with repo.config_writer() as config:
        config.set_value("user", "name", developer.name)
        config.set_value("user", "email", developer.email)
    repo.git.add(A=True)
    repo.index.commit("Import trade_report", author=developer, committer=developer)
    repo.close()
    return dest
