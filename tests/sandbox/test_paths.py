"""Path confinement: what may be named inside a project, and every way out that is refused."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from sandbox.errors import PathRefused
from sandbox.paths import confine, relative


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "lib.rs").write_text("fn a() {}\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    return root


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("src/lib.rs", "src/lib.rs"),
        ("./src/lib.rs", "src/lib.rs"),
        ("src//lib.rs", "src/lib.rs"),
        ("src\\lib.rs", "src/lib.rs"),
        ("src/new/file.rs", "src/new/file.rs"),
        ("README.md", "README.md"),
        (".gitignore", ".gitignore"),
        ("docs/.github/x.md", "docs/.github/x.md"),
    ],
)
def test_accepts_paths_inside_the_project(project: Path, given: str, expected: str) -> None:
    assert confine(project, given) == project / expected
    assert relative(project, given) == expected


@pytest.mark.parametrize(
    ("given", "reason"),
    [
        ("", "empty path"),
        ("   ", "empty path"),
        (".", "names no file"),
        ("./", "names no file"),
        ("/etc/passwd", "absolute path"),
        ("\\etc\\passwd", "absolute path"),
        ("C:/Windows/win.ini", "absolute path"),
        ("../outside/secret.txt", "'..' is not allowed"),
        ("src/../../outside/secret.txt", "'..' is not allowed"),
        ("src/../lib.rs", "'..' is not allowed"),
        ("..\\outside\\secret.txt", "'..' is not allowed"),
        (".git", "nothing under .git/"),
        (".git/config", "nothing under .git/"),
        (".GIT/config", "nothing under .git/"),
        ("./.Git/hooks/pre-commit", "nothing under .git/"),
        ("vendor/dep/.git/config", "nothing under .git/"),
        ("src/lib\0.rs", "NUL byte"),
    ],
)
def test_refuses_hostile_paths(project: Path, given: str, reason: str) -> None:
    with pytest.raises(PathRefused, match=re.escape(reason)):
        confine(project, given)


def test_refuses_a_file_symlink_pointing_outside(project: Path) -> None:
    (project / "src" / "leak.txt").symlink_to(project.parent / "outside" / "secret.txt")
    with pytest.raises(PathRefused, match="outside the project through a symlink"):
        confine(project, "src/leak.txt")


def test_refuses_a_directory_symlink_pointing_outside(project: Path) -> None:
    (project / "vendor").symlink_to(project.parent / "outside", target_is_directory=True)
    with pytest.raises(PathRefused, match="outside the project through a symlink"):
        confine(project, "vendor/secret.txt")
    with pytest.raises(PathRefused, match="outside the project through a symlink"):
        confine(project, "vendor/not-yet-there.rs")


def test_refuses_a_relative_symlink_that_climbs_out(project: Path) -> None:
    (project / "up").symlink_to(Path("..") / "outside", target_is_directory=True)
    with pytest.raises(PathRefused, match="outside the project"):
        confine(project, "up/secret.txt")


def test_refuses_a_symlink_into_git(project: Path) -> None:
    (project / "meta").symlink_to(project / ".git", target_is_directory=True)
    with pytest.raises(PathRefused, match=r"nothing under \.git/"):
        confine(project, "meta/config")


def test_refuses_a_symlink_to_the_project_itself(project: Path) -> None:
    (project / "self").symlink_to(project, target_is_directory=True)
    with pytest.raises(PathRefused, match="names the project itself"):
        confine(project, "self")


def test_follows_symlinks_that_stay_inside(project: Path) -> None:
    (project / "lib.rs").symlink_to(Path("src") / "lib.rs")
    (project / "code").symlink_to(project / "src", target_is_directory=True)
    assert confine(project, "lib.rs") == project / "src" / "lib.rs"
    assert relative(project, "code/lib.rs") == "src/lib.rs"


def test_keeps_the_callers_root_spelling(tmp_path: Path, project: Path) -> None:
    alias = tmp_path / "alias"
    alias.symlink_to(project, target_is_directory=True)
    assert confine(alias, "src/lib.rs") == alias / "src" / "lib.rs"


def test_refusal_message_does_not_reveal_the_project_location(project: Path) -> None:
    (project / "leak").symlink_to(project.parent / "outside", target_is_directory=True)
    for hostile in ("/etc/passwd", "../x", "leak/secret.txt", ".git/config"):
        with pytest.raises(PathRefused) as caught:
            confine(project, hostile)
        assert str(project) not in str(caught.value)
        assert os.fspath(project.parent) not in str(caught.value)
