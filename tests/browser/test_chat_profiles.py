"""Selector profiles: the repo's selectors.yaml and users' own files, validated."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bridge.chat.profile import REPO_FILE, ProfileError, load_profile, load_profiles


def test_the_repo_file_has_the_three_profiles_with_grok_candidates_most_specific_first():
    profiles = load_profiles()
    assert set(profiles) == {"grok", "mock", "chatgpt"}
    grok = profiles["grok"]
    assert grok.name == "grok"
    assert grok.composer.selectors[0] == 'div.tiptap.ProseMirror[contenteditable="true"]'
    assert grok.send[0] == 'button[data-testid="chat-submit"]'
    assert grok.messages.user[0] == '[data-testid="user-message"]'
    assert grok.logged_out[0].selector == '[data-testid="anon-paywall-sign-up-card"]'
    assert [m.text for m in grok.streaming if m.selector == '[role="status"]'] == [r"^\s*Generating"]
    assert profiles["chatgpt"].messages.id.attribute == "data-message-id"
    assert {p.code_route for p in profiles.values()} == {"dom"}


def test_chat_ids_come_from_the_url():
    profiles = load_profiles()
    assert profiles["grok"].chat_id("https://grok.com/chat/0d1e-77?rid=1") == "0d1e-77"
    assert profiles["chatgpt"].chat_id("https://chatgpt.com/c/abc") == "abc"
    assert profiles["grok"].chat_id("https://grok.com/") == ""


def write_user_file(tmp_path: Path, change: dict) -> Path:
    document = yaml.safe_load(REPO_FILE.read_text(encoding="utf-8"))
    mine = document["profiles"]["mock"]
    for dotted, value in change.items():
        *parents, last = dotted.split(".")
        target = mine
        for key in parents:
            target = target[key]
        target[last] = value
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({"profiles": {"mine": mine}}), encoding="utf-8")
    return path


def test_a_users_file_replaces_the_repo_profiles(tmp_path):
    path = write_user_file(tmp_path, {"send": ["button.go"], "timing.stability_ms": 50})
    profiles = load_profiles(path)
    assert list(profiles) == ["mine"]
    assert profiles["mine"].send == ["button.go"]
    assert profiles["mine"].timing.stability_ms == 50


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"send": []}, "send"),
        ({"messages.id.pattern": "response-(("}, "pattern"),
        ({"messages.id.template": "response-"}, "template"),
        ({"code_route": "ocr"}, "code_route"),
        ({"composer.typo": 1}, "typo"),
        ({"timing.poll_ms": 0}, "poll_ms"),
    ],
)
def test_an_invalid_profile_is_refused_with_its_name_and_field(tmp_path, change, complaint):
    with pytest.raises(ProfileError) as error:
        load_profiles(write_user_file(tmp_path, change))
    assert "'mine'" in str(error.value) and complaint in str(error.value)


def test_unreadable_or_shapeless_files_and_unknown_names_are_refused(tmp_path):
    with pytest.raises(ProfileError, match="cannot read"):
        load_profiles(tmp_path / "missing.yaml")
    shapeless = tmp_path / "list.yaml"
    shapeless.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ProfileError, match="'profiles' mapping"):
        load_profiles(shapeless)
    with pytest.raises(ProfileError, match="have: chatgpt, grok, mock"):
        load_profile("claude")
