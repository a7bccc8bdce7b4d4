"""One try of a patch for a task: apply, check, and roll back when the checks fail."""

from __future__ import annotations

from pydantic import BaseModel

from sandbox.errors import SandboxError
from sandbox.executor import Executor
from sandbox.models import ApplyResult, CheckResult
from sandbox.operations import ApplyRequest, CheckDegradationRequest, UndoRequest
from sandbox.summary import summarize_apply, summarize_check


class Attempt(BaseModel):
    """What one try did: a patch applied and checked, or refused (`applied`), or a plain test run (`applied` None),
    with its chat summary and the patch tried (`payload`)."""

    ok: bool
    applied: ApplyResult | None = None
    check: CheckResult | None = None
    summary: str
    payload: str | None = None

    @property
    def environment(self) -> bool:
        """The check failed through the environment (a dependency not available offline, …), not the patch."""
        return not self.ok and self.check is not None and self.check.environment is not None


def filter_failures(check: CheckResult, test_filter: str) -> tuple[int, list[str]]:
    """Tests matching a libtest filter: how many ran, and which failed."""
    matching = [t for t in check.tests if test_filter in t.name]
    return len(matching), [t.name for t in matching if t.outcome == "failed"]


def try_patch(
    executor: Executor,
    payload: str,
    *,
    file_id: int | None,
    test_filter: str | None,
    budget: int,
    skip_apply: bool = False,
    accept_applied: bool = False,
) -> Attempt:
    """Apply a payload and check degradation (and the task's test filter); undo it on failure, but not when the
    environment failed the check: the patch stays applied, unverified, until the environment is fixed.

    After a restart, `skip_apply` says the patch is known to be in the workspace and
    `accept_applied` takes an "already applied" refusal as the patch being there.
    """
    applied = ApplyResult(ok=True) if skip_apply else executor.run(ApplyRequest(payload=payload, file_id=file_id))
    if not applied.ok and accept_applied and applied.already_applied:
        applied = ApplyResult(ok=True)
    if not applied.ok:
        return Attempt(ok=False, applied=applied, summary=summarize_apply(applied, budget=budget), payload=payload)
    check = executor.run(CheckDegradationRequest())
    ok = check.ok
    summary = summarize_check(check, budget=budget)
    if ok and test_filter:
        ran, failed = filter_failures(check, test_filter)
        if failed or not ran:
            ok = False
            summary = f"tests matching '{test_filter}': {ran} ran, {len(failed)} failed\n{summary}"
    if check.environment is not None:
        summary += "\nThe patch stays applied, not verified: fix the environment, then `@agent check degradation` (or `@agent undo`)."
    elif not ok:
        try:
            executor.run(UndoRequest())
            summary += "\nThe patch was rolled back; the workspace is as before it."
        except SandboxError as exc:
            summary += f"\nRolling the patch back failed: {exc}"
    return Attempt(ok=ok, applied=applied, check=check, summary=summary, payload=payload)
