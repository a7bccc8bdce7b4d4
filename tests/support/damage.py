"""What chat UIs do to a diff on its way to the bridge, shared by the applier's tests and its benchmark."""

from __future__ import annotations

import re


def tabs_to_spaces(diff: str) -> str:
    """A markdown renderer's habit: a tab that follows leading spaces becomes four spaces."""
    out = []
    for line in diff.split("\n"):
        while (m := re.match(r"^( +)\t", line)) is not None:
            line = m[1] + "    " + line[m.end() :]
        out.append(line)
    return "\n".join(out)
