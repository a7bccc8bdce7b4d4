"""The patch applier: chat payload in, exact edits or a clean refusal out.

See `hunks` for the placement rule and `carriers` for the payload formats.
"""

from sandbox.patch.apply import apply_payload, apply_result, plan_or_refusal
from sandbox.patch.carriers import carries_edit
from sandbox.patch.plan import plan_payload
from sandbox.patch.sensitive import BUILD_SENSITIVE, is_build_sensitive
from sandbox.patch.write import write_changes

__all__ = [
    "BUILD_SENSITIVE",
    "apply_payload",
    "apply_result",
    "carries_edit",
    "is_build_sensitive",
    "plan_or_refusal",
    "plan_payload",
    "write_changes",
]
