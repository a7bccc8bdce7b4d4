"""One try of a patch for a task: apply, check, and roll back when the checks fail."""

from __future__ import annotations

from pathlib import PurePosixPath

from pydantic import BaseModel

from sandbox.errors import SandboxError
from sandbox.executor import Executor
from sandbox.models import ApplyResult, CheckResult
from sandbox.models import FetchPolicy
from sandbox.operations import ApplyRequest, CheckDegradationRequest, FetchRequest, UndoRequest
from sandbox.summary import summarize_apply, summarize_check, summarize_fetch


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
    fetch: FetchPolicy = "ask",
) -> Attempt:
    """Apply a payload and check degradation (and the task's test filter); undo it on failure, but not when the
    environment failed the check: the patch stays applied, unverified, until the environment is fixed.

    A patch that changed a Cargo.toml and is blocked by a dependency not available offline meets the developer's
    `fetch` policy (`sandbox.fetch`): `allow` runs the fetch stage and takes the check it runs again, `ask` tells the
    developer what would be fetched and how to allow it (`@agent fetch`), `deny` leaves it to the developer as is.

    After a restart, `skip_apply` says the patch is known to be in the workspace and
    `accept_applied` takes an "already applied" refusal as the patch being there.
    """
    applied = ApplyResult(ok=True) if skip_apply else executor.run(ApplyRequest(payload=payload, file_id=file_id))
    if not applied.ok and accept_applied and applied.already_applied:
        applied = ApplyResult(ok=True)
    if not applied.ok:
        return Attempt(ok=False, applied=applied, summary=summarize_apply(applied, budget=budget), payload=payload)
    check = executor.run(CheckDegradationRequest())
    fetched = ""
    if needs_fetch(applied, check):
        if fetch == "allow":
            result = executor.run(FetchRequest())
            check = result.check or check
            fetched = summarize_fetch(result.model_copy(update={"check": None}), budget=budget) + "\n"
        elif fetch == "ask":
            fetched = ask_text(check)
    ok = check.ok
    summary = fetched + summarize_check(check, budget=budget)
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


def needs_fetch(applied: ApplyResult, check: CheckResult) -> bool:
    """The patch changed a manifest and the check is blocked by a dependency not available offline."""
    manifests = any(PurePosixPath(path).name == "Cargo.toml" for path in [*applied.changed, *applied.created])
    return manifests and check.environment is not None and check.environment.kind == "dependency-unavailable"


def ask_text(check: CheckResult) -> str:
    """The `ask` policy's question to the developer: what would be fetched, and how to allow it."""
    missing = ", ".join(f"`{m}`" for m in (check.environment.missing if check.environment else [])[:12]) or "its new dependencies"
    return (
        f"The patch changed Cargo.toml and needs {missing}, not available offline. "
        "`@agent fetch` (the developer only) downloads what the manifests name, from crates.io or your configured "
        "registries or mirror only, into the sandbox's cargo home, then checks again; `sandbox.fetch: allow` does it "
        "unasked, `deny` never.\n"
    )
