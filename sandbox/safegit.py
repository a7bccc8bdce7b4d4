"""The one entry point for every git process the executor starts: hardened, explicit, with a clean environment.

The workspace's tree is written by hostile builds, so the host's git must trust nothing found there:

- The git dir is always given (GIT_DIR and GIT_WORK_TREE); git never discovers one, so a `.git` file
  or folder a build rewrote or planted is never followed. The git dir itself lies outside the sandbox.
- No configuration that runs a program applies: not the system's or the user's global files
  (GIT_CONFIG_NOSYSTEM, GIT_CONFIG_GLOBAL=/dev/null), and on the command line, which wins over the
  repository's own file: no fsmonitor, no hooks, no pager or editor, no external diff, no signing,
  no credential helper, no transport, no automatic gc, no submodule recursion. Drivers that
  `.gitattributes` can name (filter, diff, merge) only run when configured, so every driver the
  repository's configuration defines is blanked (git-lfs and git-crypt then see their pointers).
- The environment is rebuilt from an allow-list at exec time (`env -i`), because GitPython passes
  the parent's whole environment to git: no API key or token reaches a git process or its children.

Every GitPython call of a `SafeRepo` goes through `SafeGit.execute`; commits are made with hooks off.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import git
from git import Actor, Commit

ENV_BINARY = shutil.which("env") or "/usr/bin/env"
ENV_KEEP = ("PATH", "TZ")
"""The only parent variables git sees."""
GIT_ENV = {
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
    "GIT_ATTR_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_PAGER": "cat",
    "GIT_EDITOR": "true",
    "GIT_SEQUENCE_EDITOR": "true",
    "GIT_OPTIONAL_LOCKS": "0",
    "GIT_NO_REPLACE_OBJECTS": "1",
    "LANGUAGE": "C",
    "LC_ALL": "C",
}
GIT_CONFIG = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", "/dev/null"),
    ("core.sshCommand", "false"),
    ("core.pager", "cat"),
    ("core.editor", "true"),
    ("core.askPass", ""),
    ("core.attributesFile", "/dev/null"),
    ("core.untrackedCache", "false"),
    ("credential.helper", ""),
    ("diff.external", ""),
    ("sequence.editor", "true"),
    ("commit.gpgSign", "false"),
    ("tag.gpgSign", "false"),
    ("log.showSignature", "false"),
    ("gc.auto", "0"),
    ("maintenance.auto", "false"),
    ("protocol.allow", "never"),
    ("submodule.recurse", "false"),
    ("diff.ignoreSubmodules", "all"),
    ("status.submoduleSummary", "false"),
)
"""Command-line configuration for every git process; it overrides the repository's file."""
DRIVER_KEYS = {"filter": ("clean", "smudge", "process"), "diff": ("command", "textconv"), "merge": ("driver",)}
"""The program-running keys of the drivers `.gitattributes` can select."""


class SafeGit(git.Git):
    """GitPython's command runner, with every process started through the hardened environment and configuration."""

    def __init__(self, working_dir: str | os.PathLike[str] | None = None) -> None:
        super().__init__(working_dir)
        self.drivers: tuple[tuple[str, str], ...] = ()

    def execute(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        env = {**_base_env(), **self._environment, **(kwargs.pop("env", None) or {})}
        return super().execute(_hardened(list(command), env, self.drivers), *args, **kwargs)


def _base_env() -> dict[str, str]:
    kept = {name: os.environ[name] for name in ENV_KEEP if name in os.environ}
    return {**kept, **GIT_ENV}


def _hardened(command: list[str], env: Mapping[str, str], drivers: Sequence[tuple[str, str]]) -> list[str]:
    """`env -i NAME=value… git -c key=value… <rest>`: the environment replaced, the configuration pinned."""
    config = [arg for key, value in (*GIT_CONFIG, *drivers) for arg in ("-c", f"{key}={value}")]
    variables = [f"{name}={value}" for name, value in env.items()]
    return [ENV_BINARY, "-i", *variables, command[0], *config, *command[1:]]


class SafeRepo(git.Repo):
    """A repository whose git dir and work tree are explicit and whose every git process is hardened."""

    GitCommandWrapperType = SafeGit
    git: SafeGit

    def pin(self, git_dir: Path, work_tree: Path | None) -> SafeRepo:
        """Name the git dir and work tree in every command's environment, and blank the configured drivers."""
        self.git.update_environment(GIT_DIR=str(git_dir), GIT_WORK_TREE=str(work_tree) if work_tree else None)
        self.git.drivers = ()
        self.git.drivers = configured_drivers(self)
        return self

    def commit_index(self, message: str, author: Actor, committer: Actor) -> Commit:
        """Commit the index as it is; no hook runs (GitPython would run them with the parent's environment)."""
        return self.index.commit(message, author=author, committer=committer, skip_hooks=True)


def configured_drivers(repo: SafeRepo) -> tuple[tuple[str, str], ...]:
    """`key=` overrides for every program-running key of every filter, diff and merge driver the configuration defines."""
    names = repo.git.config("--list", "--name-only", "-z").split("\0")
    drivers: set[tuple[str, str]] = set()
    for name in names:
        section, _, rest = name.partition(".")
        subsection = rest.rpartition(".")[0]
        if section.lower() in DRIVER_KEYS and subsection:
            drivers.add((section.lower(), subsection))
    return tuple((f"{section}.{sub}.{key}", "") for section, sub in sorted(drivers) for key in DRIVER_KEYS[section])


def open_worktree(git_dir: Path, work_tree: Path) -> SafeRepo:
    """A linked worktree by its administrative git dir (never through the tree's `.git` file)."""
    return SafeRepo(git_dir).pin(git_dir, work_tree)


def open_project(path: Path) -> SafeRepo:
    """The user's own checkout (found by the usual discovery: it is theirs, and no build can write it)."""
    repo = SafeRepo(path)
    return repo.pin(Path(repo.git_dir), Path(repo.working_tree_dir) if repo.working_tree_dir else None)
