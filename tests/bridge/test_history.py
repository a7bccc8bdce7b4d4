"""The history API's turns as a conversation (the branch the page shows), and the reply stream's events."""

from __future__ import annotations

import json

from bridge.chat.history import HistoryItem, active_branch, after
from bridge.chat.profile import StreamEvents, load_profile
from bridge.chat.stream import KEPT, ReplyStream


def item(item_id: str, parent: str | None, created: str, role: str = "human", **extra: object) -> HistoryItem:
    return HistoryItem.model_validate({"id": item_id, "parent": parent, "role": role, "text": item_id, "created": created, **extra})


# q1 -> a1 -> q2 -> a2 (regenerated as a2b, newer) ; q2 edited as q2e -> a3 (newest)
TREE = [
    item("q1", None, "2026-10-01T10:00:00Z"),
    item("a1", "q1", "2026-10-01T10:00:05Z", "assistant"),
    item("q2", "a1", "2026-10-01T10:01:00Z"),
    item("a2", "q2", "2026-10-01T10:01:05Z", "assistant"),
    item("a2b", "q2", "2026-10-01T10:02:00Z", "assistant"),
    item("q2e", "a1", "2026-10-01T10:03:00Z"),
    item("a3", "q2e", "2026-10-01T10:03:05Z", "assistant"),
]


def ids(items: list[HistoryItem]) -> list[str]:
    return [i.id or "" for i in items]


def test_the_branch_the_page_shows_is_the_one_read():
    assert ids(active_branch(TREE, ["a1", "q2", "a2"])) == ["q1", "a1", "q2", "a2"]
    assert ids(active_branch(TREE, ["q2", "a2b"])) == ["q1", "a1", "q2", "a2b"]
    assert ids(active_branch(TREE, ["q2e"])) == ["q1", "a1", "q2e", "a3"]


def test_without_a_hint_the_newest_leaf_wins_then_the_later_in_the_answer():
    assert ids(active_branch(TREE, [])) == ["q1", "a1", "q2e", "a3"]
    twins = [item("q", None, "t"), item("x", "q", "t2", "assistant"), item("y", "q", "t2", "assistant")]
    assert ids(active_branch(twins, [])) == ["q", "y"]


def test_control_turns_are_skipped_and_a_parent_loop_ends():
    hidden = [item("q", None, "1"), item("c", "q", "2", hidden=True), item("a", "c", "3", "assistant")]
    assert ids(active_branch(hidden, [])) == ["q", "a"]
    loop = [item("a", "b", "1"), item("b", "a", "2"), item("c", "b", "3")]
    assert ids(active_branch(loop, [])) == ["a", "b", "c"], "a parent loop ends the walk instead of hanging"
    assert active_branch([], ["x"]) == []


def test_turns_after_the_last_seen_one():
    branch = active_branch(TREE, ["a2"])
    assert ids(after(branch, "a1") or []) == ["q2", "a2"]
    assert after(branch, "a2") == []
    assert ids(after(branch, None) or []) == ["q1", "a1", "q2", "a2"]
    assert after(branch, "a3") is None, "a turn of another branch is not on this one"


def frame(kind: str, reply: str | None, status: str | None = None, error: str | None = None) -> str:
    response: dict[str, object] = {"status": status}
    if reply is not None:
        response["id"] = reply
    if error:
        response["error"] = {"message": error}
    return json.dumps({"session_id": "s", "event": {"type": kind, "response": response}})


def test_the_stream_tells_a_replys_start_end_and_failure():
    spec = load_profile("grok").api.stream
    assert isinstance(spec, StreamEvents)
    woken: list[bool] = []
    stream = ReplyStream(spec, lambda: woken.append(True))
    stream.feed(frame("response.created", "r1", "in_progress"))
    assert stream.state("r1").status == "streaming"
    stream.feed(json.dumps({"event": {"type": "response.chunk", "chunk": {"text": {"text": "hi"}}}}))
    stream.feed(frame("response.done", "r1", "completed"))
    stream.feed(frame("response.done", "r2", "failed", "Something went wrong"))
    stream.feed(frame("response.done", None, "completed"))
    stream.feed(b"not json")
    stream.feed(json.dumps({"event": {"type": "conversation.history.item", "item": {"id": "old"}}}))
    assert (stream.state("r1").status, stream.state("r2").status, stream.state("r2").error) == ("completed", "failed", "Something went wrong")
    assert stream.state("old") is None and len(woken) == 3


def test_the_stream_remembers_only_the_latest_replies():
    spec = load_profile("grok").api.stream
    assert isinstance(spec, StreamEvents)
    stream = ReplyStream(spec)
    for n in range(KEPT * 3):  # hours attached: a reply every few seconds
        stream.feed(frame("response.created", f"r{n}", "in_progress"))
        stream.feed(frame("response.done", f"r{n}", "completed"))
    assert len(stream.replies) == KEPT
    assert stream.state(f"r{KEPT * 3 - 1}").status == "completed" and stream.state("r0") is None
