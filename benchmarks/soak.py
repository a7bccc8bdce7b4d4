"""Soak: the real bridge process attached to a mock chat for a long time, a command every few seconds.

    .venv/bin/python benchmarks/soak.py [--ui classic|grok-2026] [--minutes 15] [--interval 3] [--sample 30]

The bridge runs in its own OS process exactly as `devspace run` does (tests/reliability/bridge_entry.py), as a
second session of the chat (its driver reloads the page on the profile's `refresh_ms`, after each post, and
before a post from a page older than `fresh_ms`). The developer's commands
(tests/reliability/chaos.py's mix: reads, checks, tests, marker patches, commits) are typed server-side, one
every `--interval` seconds. Every `--sample` seconds: the resident memory (PSS, MiB) of the bridge's Python
process, of Playwright's driver process (node) and of its Chromium processes, their open files, the bridge's
child processes, and the replies posted since. At the end, once every reply is in:

- sent / answered / lost / duplicated, per command typed (the reliability suite's exactly-once audit);
- the memory slope of each process group after warm-up (the first quarter of the run), MiB per hour, by
  least squares over the samples, and the Python process's over the second half (whether it levelled off);
- reply latency (typed -> MCP's reply posted) p50 of the first and the last tenth of the commands, and the page
  loads per command (a second session's reloads are what grows with the chat on a page that renders every turn:
  `--window N` makes the classic page hold the last N turns, as long chats in real UIs do).

An accelerated run (`--interval 1` for about 35 minutes) types 2,000 commands: a working day of a person's pace.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import shutil
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

from pydantic import BaseModel, Field

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.mockchat.app import MockOptions  # noqa: E402
from sandbox.logs import setup_logging  # noqa: E402
from tests.reliability.audit import Sent, audit, settle  # noqa: E402
from tests.reliability.chaos import session_plan  # noqa: E402
from tests.reliability.conftest import WORLDS  # noqa: E402
from tests.reliability.harness import ChatServer, Rig  # noqa: E402
from bridge.chat.footprint import anonymous_bytes, argv, descendants, pss_bytes  # noqa: E402

MIB = 1024 * 1024


class Sample(BaseModel):
    """One look at the bridge's processes: seconds since the start, PSS (MiB), open files, children."""

    at: float
    python_mib: float
    driver_mib: float = Field(description="Playwright's driver process (node), which holds the protocol objects' other side")
    chromium_mib: float
    python_anon_mib: float = Field(description="the bridge's anonymous memory (its heap), unaffected by other programs")
    driver_anon_mib: float
    chromium_anon_mib: float
    python_files: int
    chromium_files: int
    children: int
    chromium_processes: int
    page_loads: int


def _files(pid: int) -> int:
    with contextlib.suppress(OSError):
        return len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return 0


def sample(pid: int, began: float, chat: ChatServer) -> Sample:
    below = descendants(pid)
    commands = {p: argv(p) for p in below}  # read once: a process may end between two reads
    chromium = [p for p in below if commands[p] and "chrom" in Path(commands[p][0]).name]
    driver = [p for p in below if "run-driver" in commands[p]]
    return Sample(
        at=time.monotonic() - began,
        python_mib=pss_bytes(pid) / MIB,
        driver_mib=sum(pss_bytes(p) for p in driver) / MIB,
        chromium_mib=sum(pss_bytes(p) for p in chromium) / MIB,
        python_anon_mib=anonymous_bytes(pid) / MIB,
        driver_anon_mib=sum(anonymous_bytes(p) for p in driver) / MIB,
        chromium_anon_mib=sum(anonymous_bytes(p) for p in chromium) / MIB,
        python_files=_files(pid),
        chromium_files=sum(_files(p) for p in chromium),
        children=len(below),
        chromium_processes=len(chromium),
        page_loads=len(chat.page_loads),
    )


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MiB) points, in MiB per hour."""
    if len(points) < 2:
        return float("nan")
    return statistics.linear_regression([t for t, _ in points], [v for _, v in points]).slope * 3600


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ui", choices=["classic", "grok-2026"], default="classic")
    parser.add_argument("--minutes", type=float, default=15.0, help="how long commands are typed")
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between two commands")
    parser.add_argument("--sample", type=float, default=30.0, help="seconds between two samples")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--window", type=int, default=None,
                        help="classic page: hold only the last N turns, older ones loaded on scrolling up (as long chats do)")
    args = parser.parse_args()
    setup_logging("ERROR")
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(10**6)
    root = WORLDS / f"soak-{uuid.uuid4().hex[:12]}"
    root.mkdir(parents=True)
    options = MockOptions(ui="grok-2026") if args.ui == "grok-2026" else MockOptions(window=args.window)
    try:
        with ChatServer(options=options) as chat:
            rig = Rig(root, chat)
            if args.ui == "grok-2026":
                rig.url = chat.client.grok_url(rig.chat_id)
                rig.env["DEVSPACE_CHAT__PROFILE"] = "grok"
                rig.session_file = rig.home / "sessions" / "grok.json"  # where `devspace login` saves the grok profile's login
                rig.login()
            chat.client.inject(rig.chat_id, "The session starts.", reply=False)  # a chat that exists, as a person's does
            bridge = rig.process()
            bridge.start()
            try:
                try:
                    rig.wait_attached()
                except AssertionError:
                    print(rig.describe([]))
                    raise
                run(rig, bridge.proc.pid if bridge.proc else 0, args, seed)
            finally:
                bridge.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(rig: Rig, pid: int, args: argparse.Namespace, seed: int) -> None:
    count = max(1, int(args.minutes * 60 / args.interval))
    plan = session_plan(count, random.Random(seed))
    samples: list[Sample] = []
    began = time.monotonic()
    stop = threading.Event()

    def sampler() -> None:
        while True:
            samples.append(sample(pid, began, rig.chat))
            if stop.wait(args.sample):
                return

    thread = threading.Thread(target=sampler, name="soak-sampler", daemon=True)
    thread.start()
    sent: list[Sent] = []
    typed: dict[str, float] = {}
    for n, step in enumerate(plan):
        due = began + n * args.interval
        time.sleep(max(0.0, due - time.monotonic()))
        msg_id = rig.say(step.text)
        typed[msg_id] = time.time()
        sent.append(Sent(msg_id=msg_id, verb=step.verb, effect=step.effect))
    typing = time.monotonic() - began
    settle(rig, sent, timeout=max(300.0, args.interval * 20))
    stop.set()
    thread.join()
    samples.append(sample(pid, began, rig.chat))
    report(rig, sent, typed, samples, args, seed, typing)


def report(
    rig: Rig, sent: list[Sent], typed: dict[str, float], samples: list[Sample], args: argparse.Namespace, seed: int, typing: float
) -> None:
    result = audit(sent, rig)
    posted: dict[str, float] = {}
    for row in rig.journal.outbox():
        if row["in_reply_to"] in typed and row["posted_at"] is not None:
            posted.setdefault(row["in_reply_to"], float(row["posted_at"]))
    latency = [posted[s.msg_id] - typed[s.msg_id] for s in sent if s.msg_id in posted]
    tenth = max(1, len(latency) // 10)
    first, last = statistics.median(latency[:tenth]), statistics.median(latency[-tenth:])
    warm = [s for s in samples if s.at >= samples[-1].at / 4]
    turns = len(rig.messages())
    answered = len(sent) - result.lost
    page = f"{args.ui} mock chat" + (f" holding the last {args.window} turns" if args.window and args.ui == "classic" else "")
    print(f"soak on the {page}: {len(sent)} commands, one every {args.interval:g} s for {typing / 60:.1f} min, "
          f"seed {seed}; {turns} turns in the chat at the end, {samples[-1].page_loads} page loads")
    print(f"  sent {len(sent)}, answered {answered}, lost {result.lost}, duplicated {result.duplicated}")
    for problem in result.problems[:10]:
        print(f"  problem: {problem}")
    print(f"  memory slope after warm-up (PSS, {len(warm)} samples from {warm[0].at / 60:.1f} min): "
          f"python {slope_per_hour([(s.at, s.python_mib) for s in warm]):+.1f} MiB/h, "
          f"playwright driver {slope_per_hour([(s.at, s.driver_mib) for s in warm]):+.1f} MiB/h, "
          f"chromium {slope_per_hour([(s.at, s.chromium_mib) for s in warm]):+.1f} MiB/h")
    print(f"  anonymous memory (heaps; PSS also moves with other programs sharing the binaries) slope after warm-up: "
          f"python {slope_per_hour([(s.at, s.python_anon_mib) for s in warm]):+.1f} MiB/h, "
          f"playwright driver {slope_per_hour([(s.at, s.driver_anon_mib) for s in warm]):+.1f} MiB/h, "
          f"chromium {slope_per_hour([(s.at, s.chromium_anon_mib) for s in warm]):+.1f} MiB/h; python "
          f"{samples[0].python_anon_mib:.0f} -> {samples[-1].python_anon_mib:.0f} MiB (max {max(s.python_anon_mib for s in samples):.0f})")
    late = [s for s in samples if s.at >= samples[-1].at / 2]
    print(f"  python over the second half (a plateau once warm: {len(late)} samples from {late[0].at / 60:.1f} min): "
          f"PSS {slope_per_hour([(s.at, s.python_mib) for s in late]):+.1f} MiB/h, "
          f"anonymous {slope_per_hour([(s.at, s.python_anon_mib) for s in late]):+.1f} MiB/h")
    print(f"  memory first -> last sample: python {samples[0].python_mib:.0f} -> {samples[-1].python_mib:.0f} MiB "
          f"(max {max(s.python_mib for s in samples):.0f}), playwright driver {samples[0].driver_mib:.0f} -> {samples[-1].driver_mib:.0f} MiB "
          f"(max {max(s.driver_mib for s in samples):.0f}), chromium {samples[0].chromium_mib:.0f} -> {samples[-1].chromium_mib:.0f} MiB "
          f"(max {max(s.chromium_mib for s in samples):.0f})")
    print(f"  open files first -> last: python {samples[0].python_files} -> {samples[-1].python_files}, "
          f"chromium {samples[0].chromium_files} -> {samples[-1].chromium_files}; child processes "
          f"{samples[0].children} -> {samples[-1].children} (max {max(s.children for s in samples)})")
    print(f"  reply latency p50: first tenth {first:.2f} s, last tenth {last:.2f} s, ratio {last / first:.2f}; "
          f"{samples[-1].page_loads / len(sent):.1f} page loads per command")
    print("  samples (min: PSS python, driver, chromium MiB; anonymous python, driver, chromium MiB; python files, chromium files, "
          "children, page loads):")
    for s in samples:
        print(f"    {s.at / 60:5.1f}: {s.python_mib:6.1f} {s.driver_mib:6.1f} {s.chromium_mib:7.1f}  {s.python_anon_mib:6.1f} "
              f"{s.driver_anon_mib:6.1f} {s.chromium_anon_mib:7.1f} {s.python_files:4d} {s.chromium_files:5d} "
              f"{s.children:3d} {s.page_loads:5d}")


if __name__ == "__main__":
    main()
