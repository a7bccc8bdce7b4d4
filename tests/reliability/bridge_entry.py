"""A standalone bridge process for the reliability suite, killed and restarted by the tests.

    python tests/reliability/bridge_entry.py --url URL [--human-wait S] [--crash-at POINT]

Settings come from the environment exactly as for `devspace run` (DEVSPACE_HOME, DEVSPACE_PROJECT,
DEVSPACE_CHAT__PROFILE, XAI_API_KEY, ...). `--human-wait` shortens the pause after a logged-out page;
`--crash-at` makes the process SIGKILL itself at one exact point (see CRASH_POINTS), for the windows
that random kills rarely hit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bridge.config import load_settings
from bridge.heap import freeze_startup
from bridge.session import Attachment, make_bridge, run_until_stopped
from bridge.wiring import make_orchestrator
from sandbox.logs import setup_logging


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _after(obj: Any, name: str) -> None:
    """SIGKILL this process right after `obj.name(...)` returns."""
    original = getattr(obj, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        _die()
        return result

    setattr(obj, name, wrapped)


def _mid_multi_file_write() -> None:
    """Die between the first and the second file that one multi-file patch swaps in."""
    from sandbox.patch import apply as applier

    write, replace = applier.write_changes, os.replace
    armed: list[bool] = []

    def dying_replace(src: Any, dst: Any) -> None:
        replace(src, dst)
        if armed:
            _die()

    def arming_write(root: Path, changes: list[Any]) -> None:
        if len(changes) > 1:
            armed.append(True)
        write(root, changes)

    os.replace = dying_replace  # type: ignore[assignment]
    applier.write_changes = arming_write  # type: ignore[assignment]


def _mid_git_commit() -> None:
    """Die while git's branch ref is locked for the new commit: the commit object exists, the branch has not moved,
    and the lock file stays behind."""
    from gitdb.util import LockedFD

    commit = LockedFD.commit

    def dying_commit(self: Any) -> None:
        if "refs/heads/" in str(self._filepath):
            _die()
        commit(self)

    LockedFD.commit = dying_commit  # type: ignore[method-assign]


def _after_post(bridge: Any) -> None:
    """Die once the chat shows a post, before the outbox row is marked posted (`post` is async)."""
    original = bridge.driver.post

    async def post(text: str) -> str:
        posted = await original(text)
        _die()
        return posted

    bridge.driver.post = post


CRASH_POINTS = ("after-git-commit", "mid-git-commit", "after-post", "mid-multi-file-write")


def install_crash(point: str, bridge: Any) -> None:
    """Arm one crash point; the restarted process runs without it."""
    if point == "after-git-commit":
        _after(bridge.orchestrator.executor, "commit")
    elif point == "mid-git-commit":
        _mid_git_commit()
    elif point == "after-post":
        _after_post(bridge)
    else:
        _mid_multi_file_write()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--human-wait", type=float, default=None, help="seconds to wait after a logged-out page")
    parser.add_argument("--crash-at", choices=CRASH_POINTS, default=None)
    args = parser.parse_args()

    settings = load_settings()
    setup_logging(settings.log_level, settings.log_file)
    orchestrator = make_orchestrator(settings)
    bridge = make_bridge(settings, orchestrator, Attachment(url=args.url))
    if args.human_wait is not None:
        bridge.human_wait = args.human_wait
    if args.crash_at is not None:
        install_crash(args.crash_at, bridge)
    freeze_startup()  # as `devspace run` does

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        await run_until_stopped(bridge, stop)

    asyncio.run(run())


if __name__ == "__main__":
    main()
