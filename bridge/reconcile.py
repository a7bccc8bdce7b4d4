"""What the chat shows, reconciled with the journal by id: which turns to run, which to only record, what to say.

Pure: a `ChatView` (the window at the chat's end, in chat order) and the journal's record of the window's
turns in; decisions out. A turn is new when its id is not in the journal, wherever it shows: a turn the
page shows late (after the answer to it, or above turns already seen) is run all the same, once. Only a
turn above one recorded at the first attach is from before the bridge came, and is recorded without
running (as everything shown at the first attach was).
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field

from bridge.chat.base import ChatView
from bridge.models import ChatMessage


class Late(BaseModel):
    """A new turn that shows above a turn already read: it reached the page out of order."""

    id: str
    above: str = Field(description="the first turn after it that was read before")


class Reconciled(BaseModel):
    run: list[ChatMessage] = Field(default_factory=list, description="new turns after the attach point, in chat order")
    record: list[ChatMessage] = Field(default_factory=list, description="new turns from before the attach point: seen, not run")
    late: list[Late] = Field(default_factory=list)
    position: str | None = Field(description="the last turn of the window that is read once `run` and `record` are")
    lost: str | None = Field(default=None, description="the reading position, when the window shows it is gone from the conversation")


def reconcile(view: ChatView, recorded: Mapping[str, float], attached_at: float | None, since: str | None) -> Reconciled:
    """Decide on a view. `recorded`: the window's turns the journal holds, with when each was recorded (epoch
    seconds); `attached_at`: when the first attach recorded what the chat showed then (None: unknown, no turn
    counts as from before); `since`: the reading position the view was asked to reach back to."""
    index = {turn: i for i, turn in enumerate(view.ids)}
    before = [i for i, turn in enumerate(view.ids) if attached_at is not None and turn in recorded and recorded[turn] <= attached_at]
    floor = max(before, default=-1)
    out = Reconciled(position=None, lost=None if view.anchored else since)
    for message in view.messages:
        at = index.get(message.id, len(view.ids))
        if message.id in recorded:
            continue
        if at < floor:
            out.record.append(message)
            continue
        out.run.append(message)
        above = next((turn for turn in view.ids[at + 1 :] if turn in recorded), None)
        if above is not None:
            out.late.append(Late(id=message.id, above=above))
    read = set(recorded) | {m.id for m in out.run} | {m.id for m in out.record}
    out.position = next((turn for turn in reversed(view.ids) if turn in read), None if out.lost else since)
    return out
