"""The driver's pure parts: completeness rules, the copy route's fences, comparing a post with its turn."""

from __future__ import annotations

import pytest

from bridge.chat.assemble import RawMessage, Stability, is_complete, to_chat_message
from bridge.chat.markdown import fences, plain_text, same_post
from bridge.models import CodeBlock


def raw(role: str = "assistant", text: str = "done", **extra: object) -> RawMessage:
    return RawMessage.model_validate({"id": "m1", "role": role, "text": text, "has_markdown": True, **extra})


def test_an_assistant_turn_is_complete_only_after_its_text_stood_still_for_the_window():
    stability = Stability(300)
    message = raw()
    assert not is_complete(message, is_last=True, streaming=False, stability=stability, now=10.0)
    assert not is_complete(message, is_last=True, streaming=False, stability=stability, now=10.2)
    assert stability.remaining(10.2) == pytest.approx(0.1)
    changed = raw(text="done, and more")
    assert not is_complete(changed, is_last=True, streaming=False, stability=stability, now=10.25), "a change restarts the window"
    assert not is_complete(changed, is_last=True, streaming=False, stability=stability, now=10.5)
    assert is_complete(changed, is_last=True, streaming=False, stability=stability, now=10.56)
    assert stability.remaining(10.6) is None, "a settled message is no longer waited for"


def test_the_window_counts_from_the_pages_last_change_not_from_when_the_bridge_looked():
    stability = Stability(300)
    assert is_complete(raw(), is_last=True, streaming=False, stability=stability, now=10.0, quiet=0.31), "quiet for the window already"
    late = Stability(300)
    assert not is_complete(raw(), is_last=True, streaming=False, stability=late, now=10.0, quiet=0.2)
    assert late.remaining(10.0) == pytest.approx(0.1)
    assert is_complete(raw(), is_last=True, streaming=False, stability=late, now=10.11, quiet=0.0), "a later read cannot shorten it"


def test_a_streaming_marker_or_an_empty_or_unfinished_turn_is_never_complete():
    stability = Stability(0)
    pending = Stability(500)
    assert not is_complete(raw(), is_last=True, streaming=False, stability=pending, now=1.0)
    assert not is_complete(raw(), is_last=True, streaming=True, stability=pending, now=1.1)
    assert pending.remaining(1.1) is None, "streaming again forgets the quiet period"
    pending.settled("gone", "x", 1.0)
    pending.retain({"m1"})
    assert pending.remaining(1.0) is None
    assert not is_complete(raw(), is_last=True, streaming=True, stability=stability, now=1.0)
    assert not is_complete(raw(text=""), is_last=True, streaming=False, stability=stability, now=1.0)
    assert not is_complete(raw(finished=False), is_last=True, streaming=False, stability=stability, now=1.0)
    assert is_complete(raw(), is_last=True, streaming=False, stability=stability, now=1.0)


def test_user_turns_and_turns_followed_by_others_are_complete_at_once():
    stability = Stability(10_000)
    assert is_complete(raw(role="user"), is_last=True, streaming=True, stability=stability, now=1.0)
    assert is_complete(raw(), is_last=False, streaming=True, stability=stability, now=1.0)
    assert stability.remaining(1.0) is None


def test_turns_become_chat_messages_with_bridge_roles_and_the_copy_routes_raw_markdown():
    dom = to_chat_message(raw(role="user", text="hi", code_blocks=[CodeBlock(text="x", info="rust")]), "c1")
    assert (dom.role, dom.text, dom.code_blocks, dom.chat_id) == ("developer", "hi", [CodeBlock(text="x", info="rust")], "c1")
    markdown = "Fix:\n\n```diff\n-\ta  \n+    \tb\n```\n"
    copied = to_chat_message(raw(text="lossy", raw=markdown), "c1")
    assert (copied.role, copied.text) == ("assistant", markdown)
    assert copied.code_blocks == [CodeBlock(text="-\ta  \n+    \tb", info="diff")]


def test_fences_are_exact_in_order_with_their_info_strings():
    text = "a\n\n````rust src/lib.rs\nfn x() {\n\t```\n}\n````\n\n    indented\tcode  \n\nz\n```\n\n  \n```"
    assert fences(text) == [
        CodeBlock(text="fn x() {\n\t```\n}", info="rust src/lib.rs"),
        CodeBlock(text="indented\tcode  ", info=""),
        CodeBlock(text="\n  ", info=""),
    ]


def test_a_post_matches_its_rendered_turn_but_not_another_text():
    sent = "**Updated** [src/lib.rs](https://example.com/x): `adjust_to_monday`\n\n1. built\n2. tested\n\n```diff\n+\tx\n```"
    rendered = "Updated src/lib.rs: adjust_to_monday\n\n1. built\n2. tested\n\n```diff\n+\tx\n```"
    assert plain_text(sent).split()[:2] == ["Updated", "src/lib.rs"]
    assert same_post(sent, rendered)
    assert same_post(sent, sent), "a UI that shows user turns as typed"
    assert not same_post(sent, rendered.replace("tested", "failed"))
    assert not same_post(sent, "")
