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
    assert grok.composer.selectors[:2] == ['form[data-composer] div.tiptap.ProseMirror[contenteditable="true"]', 'div.tiptap.ProseMirror[contenteditable="true"]']
    assert grok.composer.selectors[-1] == "form[data-composer] textarea", "the old textarea candidate is the last fallback"
    assert grok.send[:2] == ['form[data-composer] button[data-testid="chat-submit"]', 'button[data-testid="chat-submit"]']
    assert not any("model-select" in s or s.endswith(" button") for s in grok.send), "the model picker is never a send button"
    assert grok.messages.user[0] == '[data-testid="user-message"]'
    assert (grok.messages.order, grok.messages.virtualized, grok.messages.exclude) == ("visual", True, [".thinking-container"])
    assert grok.streaming[0].selector == '[data-testid="chat-transcript-scroller"][aria-busy="true"]'
    assert [m.text for m in grok.streaming if m.selector == '[role="status"]'] == [r"^\s*Generating"]
    assert grok.logged_out[0].selector == '[data-testid="anon-paywall-sign-up-card"]'
    assert grok.is_logged_out_url("https://accounts.x.ai/sign-in?redirect=https%3A%2F%2Fgrok.com%2Fc%2Fabc")
    assert not grok.is_logged_out_url("https://grok.com/c/abc?from=accounts.x.ai/sign-in")
    assert grok.api is not None and grok.api.history == "/rest/app-chat/conversations/{chat_id}/responses?includeThreads=false"
    assert grok.api.stream is not None and grok.api.stream.done == ["response.done"]
    assert profiles["chatgpt"].messages.id.attribute == "data-message-id"
    assert {p.code_route for p in profiles.values()} == {"dom"}
    assert profiles["mock"].api is None and profiles["mock"].messages.order == "document"


@pytest.mark.parametrize(
    ("url", "chat_id"),
    [
        ("https://grok.com/c/0f3e9a2c-1b7d-4c55-9a1e-2d3c4b5a6f70", "0f3e9a2c-1b7d-4c55-9a1e-2d3c4b5a6f70"),
        ("https://grok.com/c/0f3e9a2c?rid=77aa01bb", "0f3e9a2c"),
        ("https://grok.com/project/5d1c0a9e?chat=0f3e9a2c", "0f3e9a2c"),
        ("https://grok.com/project/5d1c0a9e?tab=files&chat=0f3e9a2c#top", "0f3e9a2c"),
        ("https://grok.com/project/5d1c0a9e", ""),
        ("https://grok.com/", ""),
        ("https://grok.com/chat/0d1e-77?rid=1", "0d1e-77"),
    ],
)
def test_grok_chat_ids_come_from_every_url_form(url, chat_id):
    assert load_profile("grok").chat_id(url) == chat_id


def test_other_profiles_chat_ids_and_a_single_pattern_in_a_users_file():
    profiles = load_profiles()
    assert profiles["chatgpt"].chat_id("https://chatgpt.com/c/abc") == "abc"
    assert profiles["mock"].chat_id("http://127.0.0.1:8765/chat/c1?live=1") == "c1"
    single = profiles["mock"].model_validate({**profiles["mock"].model_dump(), "chat_id_patterns": r"/t/(\d+)"})
    assert single.chat_id_patterns == [r"/t/(\d+)"] and single.chat_id("http://x/t/42") == "42"


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
        ({"chat_id_patterns": ["/c/(("]}, "chat_id_patterns"),
        ({"api": {"history": "/rest/conversations/responses"}}, "history"),
        ({"messages.order": "random"}, "order"),
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
