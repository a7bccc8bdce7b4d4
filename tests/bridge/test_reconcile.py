"""The reconciliation of a read with the journal, by id: what runs, what is only recorded, where reading goes on."""

from __future__ import annotations

from bridge.chat.base import WINDOW, ChatView, window_start
from bridge.models import ChatMessage
from bridge.reconcile import reconcile


def turn(msg_id: str) -> ChatMessage:
    return ChatMessage(id=msg_id, role="developer", text=f"@agent help {msg_id}", chat_id="chat")


def view(ids: list[str], new: list[str], anchored: bool = True) -> ChatView:
    return ChatView(ids=ids, messages=[turn(i) for i in new], anchored=anchored)


def test_the_position_never_moves_past_a_turn_neither_run_nor_recorded() -> None:
    # x is on the page but not readable yet (the history API does not hold it yet): our post p, recorded, follows it
    found = reconcile(view(["a", "x", "p"], []), recorded={"a", "p"}, attached=set(), since="a")
    assert found.position == "a"  # the next read reaches back to a, so it shows x again
    found = reconcile(view(["a", "x", "p"], ["x"]), recorded={"a", "p"}, attached=set(), since="a")
    assert [m.id for m in found.run] == ["x"] and found.position == "p"
    assert [(late.id, late.above) for late in found.late] == [("x", "p")]


def test_an_unread_turn_above_the_position_moves_it_back_to_that_turn() -> None:
    found = reconcile(view(["a", "x", "b", "c"], []), recorded={"a", "b", "c"}, attached=set(), since="c")
    assert found.position == "a"


def test_before_any_turn_is_read_the_position_is_the_chats_start() -> None:
    assert reconcile(view([], []), recorded=set(), attached=set(), since=None).position is None
    found = reconcile(view(["u"], []), recorded=set(), attached=set(), since=None)  # a turn still being written
    assert found.position is None and found.run == []


def test_only_a_turn_above_one_the_first_attach_recorded_is_from_before_the_bridge() -> None:
    found = reconcile(view(["old", "a", "mine", "new"], ["old", "mine", "new"]), recorded={"a"}, attached={"a"}, since="a")
    assert [m.id for m in found.record] == ["old"]
    assert [m.id for m in found.run] == ["mine", "new"]
    assert found.position == "new"


def test_a_read_reaches_back_to_the_chats_start_before_any_turn_is_read() -> None:
    ids = [f"m{n}" for n in range(WINDOW + 5)]
    assert window_start(ids, None) == (0, True)
    assert window_start(ids, None, tail=True) == (5, True)  # a first attach takes in the last WINDOW
    assert window_start(ids, "m2") == (2, True)
    assert window_start(ids, "m44") == (5, True)
    assert window_start(ids, "gone") == (5, False)
