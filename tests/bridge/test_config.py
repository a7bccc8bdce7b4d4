"""Settings: precedence of init > env > YAML > defaults, clear errors, fallbacks, secrets."""

from __future__ import annotations

import os
import re
from pathlib import Path

import git
import pytest
import yaml
from pydantic import SecretStr

from bridge.chat.base import Attachment
from bridge.chat.playwright_driver import options_for
from bridge.chat.recycling import Recycling
from bridge.config import ConfigError, Settings, load_settings
from bridge.protocol.verbs import default_permissions
from sandbox.redact import MASK, redact

REPO = Path(__file__).resolve().parents[2]
SECRET = "correct-horse-battery-staple"  # not token-shaped: only registration can mask it


@pytest.fixture(autouse=True)
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No DevSpace or key variables from the outside, an empty HOME, and a fresh working directory."""
    for name in list(os.environ):
        if name.startswith("DEVSPACE_") or name in ("XAI_API_KEY", "OPENAI_API_KEY", "XDG_DATA_HOME", "XDG_CONFIG_HOME"):
            monkeypatch.delenv(name)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


def revealed(secret: SecretStr | None) -> str | None:
    return secret.get_secret_value() if secret is not None else None


def write_yaml(path: Path, data: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_defaults(tmp_path: Path) -> None:
    s = load_settings()
    assert s.config is None
    assert s.home == tmp_path / "home" / ".local" / "share" / "devspace"
    assert (s.llm.base_url, s.llm.model, s.llm.max_retries, s.llm.api_key) == ("https://api.x.ai/v1", "grok-4", 4, None)
    assert (s.rules.flood_per_minute, s.rules.loop_limit, s.rules.max_attempts) == (20, 5, 3)
    assert (s.replies.max_chars, s.replies.summary_budget) == (8000, 1500)
    assert s.chat.profile == "grok"
    assert s.chat.storage_state == s.home / "sessions" / "grok.json"
    assert s.log_file == s.home / "logs" / "devspace.log"
    assert str(s.identities.identity("assistant")) == "Grok <grok@x.ai>"
    assert str(s.identities.identity("mcp")) == "Colloqium MCP <mcp@devspace.local>"
    assert s.identities.identity("developer").name == "Developer"  # HOME has no git config


def test_default_permissions_follow_the_spec() -> None:
    perms = load_settings().rules.permissions
    assert perms["commit"] == ["developer"]
    assert perms["undo"] == ["developer"]
    assert perms["code improvement"] == ["developer", "assistant"]
    for verb in ("help", "code files", "code get", "code sandwich", "code test", "check compile", "status"):
        assert set(perms[verb]) == {"developer", "assistant", "mcp"}


def test_permissions_override_only_the_verbs_named(clean_env: Path) -> None:
    write_yaml(clean_env / "devspace.yaml", {"rules": {"permissions": {"commit": ["developer", "assistant"]}}})
    perms = load_settings().rules.permissions
    assert perms["commit"] == ["developer", "assistant"]
    assert perms["undo"] == ["developer"]
    assert set(perms) == set(default_permissions())


def test_an_unknown_command_in_permissions_is_named(clean_env: Path) -> None:
    write_yaml(clean_env / "devspace.yaml", {"rules": {"permissions": {"comit": ["developer"]}}})
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == "config: rules.permissions: unknown command 'comit' (did you mean: commit?)"


def test_home_respects_xdg_data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert load_settings().home == tmp_path / "xdg" / "devspace"


def test_precedence_init_over_env_over_yaml_over_defaults(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_yaml(
        clean_env / "devspace.yaml",
        {"llm": {"model": "from-yaml", "base_url": "http://yaml.example/v1", "timeout": 7}, "rules": {"loop_limit": 9, "max_attempts": 4}},
    )
    monkeypatch.setenv("DEVSPACE_LLM__MODEL", "from-env")
    monkeypatch.setenv("DEVSPACE_LLM__TIMEOUT", "8")
    monkeypatch.setenv("DEVSPACE_RULES__LOOP_LIMIT", "6")
    s = load_settings(llm={"model": "from-init"})
    assert s.config == clean_env / "devspace.yaml"
    assert s.llm.model == "from-init"  # init > env > yaml
    assert s.llm.timeout == 8.0  # env > yaml
    assert s.rules.loop_limit == 6  # env > yaml
    assert s.llm.base_url == "http://yaml.example/v1"  # yaml > default
    assert s.rules.max_attempts == 4  # yaml > default
    assert s.rules.flood_per_minute == 20  # default
    assert s.llm.max_retries == 4  # default, in a section the others only partly set


def test_config_file_argument_over_env_over_working_directory(clean_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    local = write_yaml(clean_env / "devspace.yaml", {"llm": {"model": "local"}})
    named = write_yaml(tmp_path / "named.yaml", {"llm": {"model": "named"}})
    given = write_yaml(tmp_path / "given.yaml", {"llm": {"model": "given"}})
    assert load_settings().config == local
    monkeypatch.setenv("DEVSPACE_CONFIG", str(named))
    assert load_settings().llm.model == "named"
    s = load_settings(given)
    assert (s.config, s.llm.model) == (given, "given")


def test_nested_env_values(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DEVSPACE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("DEVSPACE_CHAT__DRY_RUN", "true")
    monkeypatch.setenv("DEVSPACE_SANDBOX__LIMITS__TIMEOUT", "12.5")
    monkeypatch.setenv("DEVSPACE_RULES__PERMISSIONS", '{"undo": ["developer", "assistant"]}')
    monkeypatch.setenv("DEVSPACE_CHROMIUM", "/opt/chromium/chrome")
    monkeypatch.setenv("DEVSPACE_LOG_LEVEL", "warn")
    s = load_settings()
    assert s.home == tmp_path / "state"
    assert s.chat.dry_run is True
    assert s.sandbox.limits.timeout == 12.5
    assert s.rules.permissions["undo"] == ["developer", "assistant"]
    assert s.rules.permissions["commit"] == ["developer"]
    assert s.chat.chromium == Path("/opt/chromium/chrome")
    assert s.log_level == "WARNING"
    assert s.sandbox_config().limits.timeout == 12.5
    assert s.sandbox_config().home == tmp_path / "state"


def test_the_browser_renewal_settings_reach_the_driver(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (clean_env / "devspace.yaml").write_text("chat:\n  relaunch_renewals: 0\n  browser_ceiling_mib: null\n")
    monkeypatch.setenv("DEVSPACE_CHAT__RECYCLE_RELOADS", "7")
    options = options_for(load_settings(), Attachment(url="http://127.0.0.1:9/chat/1"))
    assert (options.recycle_reloads, options.relaunch_renewals, options.browser_ceiling_mib) == (7, 0, None)
    with pytest.raises(ConfigError, match="chat.browser_ceiling_mib"):
        load_settings(chat={"browser_ceiling_mib": 0})


def test_bad_value_is_one_clear_error_naming_the_field(clean_env: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(rules={"loop_limit": -1})
    assert str(caught.value) == "config: rules.loop_limit: Input should be greater than 0 (got -1)"
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_bad_value_from_env_and_yaml_names_each_field(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_yaml(clean_env / "devspace.yaml", {"chat": {"answer_timeout": "soon"}, "llm": {"modle": "typo"}})
    monkeypatch.setenv("DEVSPACE_RULES__MAX_ATTEMPTS", "0")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    lines = str(caught.value).splitlines()
    assert lines == [
        "config: llm.modle: unknown setting",
        "config: chat.answer_timeout: Input should be a valid number, unable to parse string as a number (got 'soon')",
        "config: rules.max_attempts: Input should be greater than 0 (got '0')",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("llm: [unclosed\n", "invalid YAML at line 2"),
        ("- just\n- a list\n", "the top level must be a mapping of settings, not list"),
    ],
)
def test_broken_yaml_file_is_a_clear_error(clean_env: Path, text: str, expected: str) -> None:
    path = clean_env / "devspace.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=f"^config: {re.escape(str(path))}: {expected}"):
        load_settings()


def test_missing_named_file_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError, match=r"file not found: .*absent\.yaml"):
        load_settings(tmp_path / "absent.yaml")
    monkeypatch.setenv("DEVSPACE_CONFIG", str(tmp_path / "gone.yaml"))
    with pytest.raises(ConfigError, match=r"file not found: .*gone\.yaml"):
        load_settings()


def test_api_key_falls_back_to_xai_then_openai(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "openai-key-value")
    assert revealed(load_settings().llm.api_key) == "openai-key-value"
    monkeypatch.setenv("XAI_API_KEY", "xai-key-value")
    assert revealed(load_settings().llm.api_key) == "xai-key-value"
    monkeypatch.setenv("DEVSPACE_LLM__API_KEY", "devspace-key-value")
    assert revealed(load_settings().llm.api_key) == "devspace-key-value"


def test_a_key_in_the_yaml_file_beats_the_fallbacks(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", "xai-key-value")
    write_yaml(clean_env / "devspace.yaml", {"llm": {"api_key": "yaml-key-value"}})
    assert revealed(load_settings().llm.api_key) == "yaml-key-value"


def test_sandbox_token_from_env_alias_and_from_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("file-token-value\n", encoding="utf-8")
    assert revealed(load_settings(sandbox={"token_file": token_file}).sandbox.token) == "file-token-value"
    monkeypatch.setenv("DEVSPACE_SANDBOX_TOKEN", "env-token-value")
    assert revealed(load_settings(sandbox={"token_file": token_file}).sandbox.token) == "env-token-value"
    with pytest.raises(ConfigError, match=r"^config: sandbox: token_file .*missing: No such file"):
        monkeypatch.delenv("DEVSPACE_SANDBOX_TOKEN")
        load_settings(sandbox={"token_file": tmp_path / "missing"})


def test_secrets_absent_from_repr_and_dumps_and_registered_for_redaction(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", SECRET)
    monkeypatch.setenv("DEVSPACE_SANDBOX__TOKEN", SECRET[::-1])
    s = load_settings()
    for text in (repr(s), str(s), repr(s.llm), s.model_dump_json(), str(s.model_dump())):
        assert SECRET not in text and SECRET[::-1] not in text
    assert redact(f"key={SECRET} token {SECRET[::-1]}") == f"key={MASK} token {MASK}"


def test_a_bad_secret_is_never_echoed(clean_env: Path) -> None:
    write_yaml(clean_env / "devspace.yaml", {"llm": {"api_key": 987654321987}, "sandbox": {"token": ["987654321987"]}})
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "config: llm.api_key: Input should be a valid string" in str(caught.value)
    assert "config: sandbox.token: Input should be a valid string" in str(caught.value)
    assert "987654321987" not in str(caught.value)


def test_developer_identity_from_git_config(tmp_path: Path) -> None:
    (tmp_path / "home" / ".gitconfig").write_text("[user]\n\tname = Ada Global\n\temail = ada@global.example\n")
    assert str(load_settings().identities.identity("developer")) == "Ada Global <ada@global.example>"
    project = tmp_path / "project"
    repo = git.Repo.init(project)
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "Ada Local")
    dev = load_settings(project=project).identities.identity("developer")
    assert (dev.name, dev.email) == ("Ada Local", "ada@global.example")
    explicit = load_settings(identities={"developer": {"name": "Bob", "email": "bob@example.org"}})
    assert str(explicit.identities.identity("developer")) == "Bob <bob@example.org>"


def test_the_four_roles_are_built_in_and_overridden_key_by_key(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings().roles
    assert {name: role.produces for name, role in defaults.items()} == {
        "generator": "patch", "tester": "patch", "critic": "text", "optimizer": "patch"
    }
    assert all(role.access == "developer" and role.base_url is None and role.model is None for role in defaults.values())
    write_yaml(clean_env / "devspace.yaml", {"roles": {"critic": {"max_tokens": 500}, "doc": {"prompt": "You write docs.", "produces": "patch"}}})
    monkeypatch.setenv("DEVSPACE_ROLES__CRITIC__MODEL", "grok-mini")
    roles = load_settings().roles
    assert (roles["critic"].max_tokens, roles["critic"].model, roles["critic"].prompt) == (500, "grok-mini", defaults["critic"].prompt)
    assert (roles["doc"].prompt, roles["doc"].produces, roles["doc"].calls_per_hour) == ("You write docs.", "patch", 30)
    assert str(roles["doc"].author("doc")) == "Doc <doc@roles.devspace.local>"


def test_a_roles_endpoint_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", SECRET)
    monkeypatch.setenv("VENDOR_KEY", "another-vendor-secret-42")
    s = load_settings(roles={
        "critic": {"model": "grok-mini"},
        "tester": {"base_url": "https://api.x.ai/v1/"},  # the same endpoint, written differently
        "optimizer": {"base_url": "https://api.openai.com/v1"},
        "generator": {"base_url": "https://api.openai.com/v1", "api_key_env": "VENDOR_KEY", "model": "gpt-4.1"},
    })
    critic = s.roles["critic"].endpoint(s.llm)
    assert critic is not None and (critic.base_url, critic.model, revealed(critic.api_key)) == ("https://api.x.ai/v1", "grok-mini", SECRET)
    tester = s.roles["tester"].endpoint(s.llm)
    assert tester is not None and revealed(tester.api_key) == SECRET
    assert s.roles["optimizer"].endpoint(s.llm) is None  # the llm key never goes to another vendor
    generator = s.roles["generator"].endpoint(s.llm)
    assert generator is not None and (generator.model, revealed(generator.api_key)) == ("gpt-4.1", "another-vendor-secret-42")
    assert redact("key another-vendor-secret-42") == f"key {MASK}"
    assert "another-vendor-secret-42" not in repr(s) + s.model_dump_json()


def test_example_config_loads_and_documents_the_defaults() -> None:
    example = load_settings(REPO / "devspace.example.yaml")
    defaults = Settings()
    for section in ("llm", "roles", "rules", "replies"):
        assert getattr(example, section) == getattr(defaults, section), section
    assert (example.identities.assistant, example.identities.mcp) == (defaults.identities.assistant, defaults.identities.mcp)
    assert example.sandbox.limits == defaults.sandbox.limits
    assert example.home == defaults.home
    assert example.chat.answer_timeout == defaults.chat.answer_timeout
    assert example.chat.model_dump(include=set(Recycling.model_fields)) == defaults.chat.model_dump(include=set(Recycling.model_fields))
    assert example.mcp_server == defaults.mcp_server
    assert example.log_level == defaults.log_level
