"""A conversation from the web app's own history API: the turns of the branch the page shows, in chat order.

The API returns every turn ever written, alternatives included (a regenerated answer, an edited
question), as a tree by parent id, without naming the current leaf. The branch read is the
root-to-leaf path that holds the most of the turns mounted in the page; ties go to the newest leaf,
then to the later one in the answer (as public exporters of grok.com do).
"""

from __future__ import annotations

from pydantic import BaseModel


class HistoryItem(BaseModel):
    """One turn as the history API gives it (field names mapped by the profile's `api`)."""

    id: str | None
    parent: str | None = None
    role: str = ""
    text: str = ""
    created: str = ""
    partial: bool = False
    hidden: bool = False


def active_branch(items: list[HistoryItem], mounted: list[str]) -> list[HistoryItem]:
    """The shown branch, root first, without hidden (control) turns; [] for an empty conversation."""
    by_id = {item.id: item for item in items if item.id}
    parents = {item.parent for item in by_id.values() if item.parent}
    leaves = [item for item in by_id.values() if item.id not in parents]
    shown = set(mounted)
    position = {item_id: index for index, item_id in enumerate(by_id)}

    def path(leaf: HistoryItem) -> list[HistoryItem]:
        chain: list[HistoryItem] = []
        seen: set[str] = set()
        node: HistoryItem | None = leaf
        while node is not None and node.id not in seen:
            seen.add(node.id or "")
            chain.append(node)
            node = by_id.get(node.parent) if node.parent else None
        return chain[::-1]

    paths = [path(leaf) for leaf in leaves]
    if not paths:
        return []
    best = max(paths, key=lambda p: (sum(1 for item in p if item.id in shown), p[-1].created, position[p[-1].id]))
    return [item for item in best if not item.hidden]


def after(branch: list[HistoryItem], last_seen: str | None) -> list[HistoryItem] | None:
    """The turns after `last_seen` (all when None); None when it is not on the branch."""
    if last_seen is None:
        return branch
    ids = [item.id for item in branch]
    return branch[ids.index(last_seen) + 1 :] if last_seen in ids else None

