"""What the chat shows, reconciled with the journal by id: which turns to run, which to only record, what to say.

Pure: a `ChatView` (the window at the chat's end, in chat order) and the journal's record of the window's
turns in; decisions out. A turn is new when its id is not in the journal, wherever it shows: a turn the
page shows late (after the answer to it, or above turns already seen) is run all the same, once. Only a
turn above one the first attach recorded is from before the bridge came, and is recorded without running
(as everything shown at the first attach was): an exact rule by id, never a comparison of clocks.

The reading position moves to the last turn of the window up to which every turn is run or recorded, never
past a turn that is neither (one not complete, not stored yet, or after one that is not), so the next read,
which reaches back to it, shows that turn again. Before any turn is read the position is None: the chat's start.
"""

from __future__ import annotations

from collections.abc import Collection

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
    position: str | None = Field(
        description="the last turn of the window up to which every turn is read once `run` and `record` are (None: the chat's start)"
    )
    lost: str | None = Field(default=None, description="the reading position, when the window shows it is gone from the conversation")


def reconcile(view: ChatView, recorded: Collection[str], attached: Collection[str], since: str | None) -> Reconciled:
    """Decide on a view. `recorded`: the window's turns the journal holds; `attached`: the turns the first attach
    recorded (what the chat showed before the bridge came; empty after a catch-up attach); `since`: the reading
    position the view was asked to reach back to (None: the chat's start)."""
    index = {turn: i for i, turn in enumerate(view.ids)}
    floor = max((i for i, turn in enumerate(view.ids) if turn in attached), default=-1)
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
    out.position = position(view, set(recorded) | {m.id for m in out.run} | {m.id for m in out.record}, since)
    return out


def position(view: ChatView, read: Collection[str], since: str | None) -> str | None:
    """The reading position once the turns in `read` are: the view's last turn up to which every turn is read. When
    its first turn is not, `since` stays (None, the chat's start, when the view lost `since`)."""
    unread = next((i for i, turn in enumerate(view.ids) if turn not in read), len(view.ids))
    return view.ids[unread - 1] if unread else (since if view.anchored else None)
