"""The `devspace` offline commands, run as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import git
import pytest

from bridge.example import copy_example
from tests.conftest import TEST_IDENTITY

ROOT = Path(__file__).resolve().parents[1]
PATCH = """Change the report header:

```diff
--- a/src/report.rs
+++ b/src/report.rs
@@ -1,3 +1,3 @@
-{first}
+// edited through devspace apply
"""


def devspace(*args: str, home: Path, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEVSPACE_HOME": str(home), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", *args], cwd=ROOT, env=env, input=stdin, capture_output=True, text=True, timeout=300
    )


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


def test_files_lists_stable_ids(tmp_path: Path, crate_copy: Path) -> None:
    first = devspace("files", "--project", str(crate_copy), home=tmp_path)
    assert first.returncode == 0, first.stderr
    rows = dict(line.split(None, 1)[::-1] for line in first.stdout.splitlines())
    assert "src/tests/task/aggr_trades.rs" in rows and "Cargo.toml" in rows
    only_rs = devspace("files", "--project", str(crate_copy), "*.rs", home=tmp_path)
    assert all(line.split()[1].endswith(".rs") for line in only_rs.stdout.splitlines())
    assert all(rows[line.split()[1]] == line.split()[0] for line in only_rs.stdout.splitlines())


def test_apply_changes_the_tree_or_nothing(tmp_path: Path, crate_copy: Path) -> None:
    first_line = (crate_copy / "src/report.rs").read_text().splitlines()[0]
    payload = tmp_path / "payload.md"
    payload.write_text(PATCH.format(first=first_line))
    done = devspace("apply", "--root", str(crate_copy), str(payload), home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "modified src/report.rs"
    assert (crate_copy / "src/report.rs").read_text().startswith("// edited through devspace apply\n")

    before = snapshot(crate_copy)
    stale = devspace("apply", "--root", str(crate_copy), "-", home=tmp_path, stdin=PATCH.format(first=first_line))
    assert stale.returncode == 1 and "hunk 1 of src/report.rs" in stale.stderr
    hostile = devspace("apply", "--root", str(crate_copy), "-", home=tmp_path, stdin="```diff\n--- a/../x.rs\n+++ b/../x.rs\n@@\n-a\n+b\n```\n")
    assert hostile.returncode == 1 and ".." in hostile.stderr
    assert snapshot(crate_copy) == before
    assert not (crate_copy.parent / "x.rs").exists()


@pytest.mark.cargo
def test_check_prints_summaries_and_exit_codes(tmp_path: Path, crate_copy: Path) -> None:
    ok = devspace("check", "test", "--project", str(crate_copy), "--filter", "aggr_trades", home=tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "6 passed, 0 failed" in ok.stdout
    compile_ok = devspace("check", "compile", "--project", str(crate_copy), home=tmp_path)
    assert compile_ok.returncode == 0 and "OK" in compile_ok.stdout
    bad = devspace("check", "test", "--project", str(tmp_path / "missing"), home=tmp_path)
    assert bad.returncode != 0 and "not a git repository" in bad.stderr


def test_bad_config_value_is_one_clear_error(tmp_path: Path, crate_copy: Path) -> None:
    env_bad = {"DEVSPACE_RULES__LOOP_LIMIT": "-1"}
    result = subprocess.run(
        [sys.executable, "-m", "bridge.cli", "files", "--project", str(crate_copy)],
        cwd=ROOT, env={**os.environ, "DEVSPACE_HOME": str(tmp_path), **env_bad}, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert "rules.loop_limit" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.cargo
def test_exec_then_commit_and_replay_dry(tmp_path: Path, crate_copy: Path) -> None:
    patch = (
        "@agent code improvement\nsrc/date.rs\n```rust\n<<<<<<< SEARCH\n        day = day.add_days(-1);\n=======\n"
        "        day = day.add_days(-1); // one day back\n>>>>>>> REPLACE\n```\n"
    )
    applied = devspace("exec", "--project", str(crate_copy), "--actor", "assistant", patch, home=tmp_path)
    assert applied.returncode == 0 and "@all Updated src/date.rs" in applied.stdout, applied.stderr
    committed = devspace("exec", "--project", str(crate_copy), "@agent commit [msg: comment]", home=tmp_path)
    assert "Committed " in committed.stdout and "From Grok: comment (chat_id=local)" in committed.stdout

    transcript = tmp_path / "chat.jsonl"
    import json

    transcript.write_text(
        "\n".join(
            json.dumps(m)
            for m in [
                {"role": "developer", "text": "@agent code improvement [vibe: add a comment]"},
                {"role": "assistant", "text": patch.replace("day = day.add_days(-1);", "let mut day = date;").replace("one day back", "start")},
                {"role": "developer", "text": "@agent commit [msg: dry]"},
            ]
        )
    )
    replayed = devspace("replay", str(transcript), "--project", str(crate_copy), home=tmp_path)
    assert replayed.returncode == 0, replayed.stderr
    assert "@all Updated src/date.rs" in replayed.stdout and "[dry run] would commit" in replayed.stdout
    log = subprocess.run(["git", "log", "--format=%s"], cwd=next((tmp_path / "workspaces").iterdir()) / "tree", capture_output=True, text=True)
    assert "dry" not in log.stdout and log.stdout.startswith("From Grok: comment")


@pytest.mark.parametrize(
    ("option", "forged"),
    [
        (["--chat-id", "123\nCo-authored-by: Mallory <m@evil.example>"], "Co-authored-by: Mallory"),
        (["--chat-id", "123\nChat-Message-Id: forged"], "Chat-Message-Id: forged"),
    ],
    ids=["co-author", "message-id"],
)
def test_a_chat_link_with_a_newline_forges_no_trailer(tmp_path: Path, crate_copy: Path, option: list[str], forged: str) -> None:
    """The in-process commit validates the chat link as the REST route does: one validation, on the model."""
    assert devspace("files", "--project", str(crate_copy), home=tmp_path).returncode == 0
    tree = next((tmp_path / "workspaces").iterdir()) / "tree"
    (tree / "src/report.rs").write_text("// pending change\n" + (tree / "src/report.rs").read_text())
    head = git.Repo(tree).head.commit.hexsha
    done = devspace("exec", "--project", str(crate_copy), *option, "@agent commit [msg: pending]", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "`commit` failed: invalid request: chat.chat_id: must not hold control characters" in done.stdout
    repo = git.Repo(tree)
    assert repo.head.commit.hexsha == head and forged not in repo.head.commit.message  # nothing was committed
    assert repo.is_dirty()  # the pending change is still there


def test_a_chat_url_with_a_newline_forges_no_trailer(tmp_path: Path, crate_copy: Path) -> None:
    assert devspace("files", "--project", str(crate_copy), home=tmp_path).returncode == 0
    tree = next((tmp_path / "workspaces").iterdir()) / "tree"
    (tree / "src/report.rs").write_text("// pending change\n" + (tree / "src/report.rs").read_text())
    head = git.Repo(tree).head.commit.hexsha
    env = {"DEVSPACE_CHAT__URL": "https://grok.com/chat/1\nCo-authored-by: Mallory <m@evil.example>"}
    done = devspace("exec", "--project", str(crate_copy), "@agent commit [msg: pending]", home=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert "`commit` failed: invalid request: chat.url: must not hold control characters" in done.stdout
    assert git.Repo(tree).head.commit.hexsha == head


def test_an_error_prints_a_selector_in_it_verbatim(capsys: pytest.CaptureFixture[str]) -> None:
    """A logged-out page names its marker, a CSS selector in brackets, which rich markup would swallow into `()`."""
    from bridge.cli import fail

    exit_ = fail('LoggedOut: the page is logged out ([data-testid="anon-paywall-sign-up-card"]); run `devspace login` again')
    assert exit_.exit_code == 1
    assert '([data-testid="anon-paywall-sign-up-card"])' in capsys.readouterr().err


def test_login_import_hands_a_saved_login_over(tmp_path: Path) -> None:
    """`devspace login --import -` (the hand-over into the bridge's container) saves the session as its own user, 0600,
    into a home whose `sessions/` does not exist yet; anything else is refused with nothing written."""
    home = tmp_path / "home"
    saved = home / "sessions" / "mock.json"
    state = '{"cookies": [{"name": "session", "value": "%s", "domain": "127.0.0.1", "path": "/"}], "origins": []}' % ("s" * 32)
    for bad in ('{"cookies": [], "origins": []}', "<html>"):
        refused = devspace("login", "--profile", "mock", "--import", "-", home=home, stdin=bad)
        assert refused.returncode == 2 and "cannot import the login" in refused.stderr
        assert not saved.exists()
    done = devspace("login", "--profile", "mock", "--import", "-", home=home, stdin=state)
    assert done.returncode == 0, done.stderr
    assert saved.stat().st_mode & 0o777 == 0o600 and saved.stat().st_uid == os.getuid()
    assert '"value": "' + "s" * 32 in saved.read_text()
    source = tmp_path / "grok.json"
    source.write_text(state.replace("s" * 32, "t" * 32))
    again = devspace("login", "--profile", "mock", "--import", str(source), home=home)
    assert again.returncode == 0, again.stderr
    assert "t" * 32 in saved.read_text()


@pytest.mark.cargo
def test_doctor_project_checks_the_environment_before_any_patch(tmp_path: Path, crate_copy: Path) -> None:
    healthy = devspace("doctor", "--project", str(crate_copy), home=tmp_path)
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "check environment: OK" in healthy.stdout and "build and tests: OK" in healthy.stdout
    broken = copy_example(tmp_path / "broken", TEST_IDENTITY)
    manifest = broken / "Cargo.toml"
    manifest.write_text(manifest.read_text().replace("[dependencies]", "[dependencies]\nnowhere_offline_crate = \"1\""))
    repo = git.Repo(broken)
    repo.git.add("--all")
    repo.index.commit("a dependency nobody has", author=TEST_IDENTITY, committer=TEST_IDENTITY)
    blocked = devspace("doctor", "--project", str(broken), home=tmp_path)
    assert blocked.returncode == 1
    assert "BLOCKED BY THE ENVIRONMENT" in blocked.stdout and "`nowhere_offline_crate`" in blocked.stdout
