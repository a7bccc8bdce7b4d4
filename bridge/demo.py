"""`devspace demo`: the mock chat, a scripted assistant and developer playing the seed's workflow
on a copy of the example crate, with the real bridge attached in a headless Chromium; then the
agent roles' scene (`bridge.demo_roles`) with a stand-in LLM.

Two fixtures: `classic` (the mock profile on the server-rendered page, the bridge as a second session
that reloads) and `grok-2026` (the grok profile as shipped, on the fixture of today's grok.com, read
through its history API with turns pushed live to the page)."""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import git
from rich.console import Console

from bridge.config import Settings
from bridge.demo_roles import role_steps, start_standin
from bridge.example import copy_example
from bridge.journal import Journal
from bridge.mockchat.app import MockOptions, create_app
from bridge.mockchat.assistant import Rule, Script, ScriptedAssistant
from bridge.mockchat.client import MockChatClient
from bridge.mockchat.store import Message
from bridge.protocol import SIGNATURE
from bridge.runner import ATTACHED
from bridge.session import Attachment, make_bridge, run_until_stopped
from bridge.wiring import make_orchestrator
from sandbox.operations import FilesRequest, StatusRequest
from sandbox.serving import BackgroundServer

CHAT_ID = "demo"
STEP_TIMEOUT = 300.0
Fixture = Literal["classic", "grok-2026"]
FIXTURES: tuple[Fixture, ...] = ("classic", "grok-2026")

PATCH = """\
Here is a constant-time version: the weekday is already known from the day count, so step back
that many days at once instead of looping.

@agent code improvement #2025-07-12 file_id={file_id}
```diff
--- a/src/date.rs
+++ b/src/date.rs
@@ -96,8 +96,6 @@
 /// The Monday of the week that contains `date` (the date itself when it is a Monday).
 pub fn adjust_to_monday(date: Date) -> Date {{
-    let mut day = date;
-    while day.weekday() != Weekday::Mon {{
-        day = day.add_days(-1);
-    }}
-    day
+    // Days since Monday: 1970-01-01 (day 0) was a Thursday, three days after a Monday.
+    let since_monday = (date.to_days() + 3).rem_euclid(7);
+    date.add_days(-since_monday)
 }}
```
"""


def script(file_id: int) -> Script:
    """The assistant's side of the seed's workflow; it answers every turn, the bot's included."""
    return Script(
        delay_ms=8,
        rules=[
            Rule(match=r"(?i)vibe:.*adjust_to_monday", reply=PATCH.format(file_id=file_id), first_delay_ms=600, chunk=12),
            Rule(match=r"^@all Updated src/date\.rs", reply="The build is clean and nothing regressed. Run the aggregation tests next: `@agent code test #aggr_trades`."),
            Rule(match=r"check test #aggr_trades: OK", reply="All aggregation tests pass with the new `adjust_to_monday`. Ready to commit."),
            Rule(match=r"^Committed ", reply="Committed. Anything else?"),
            Rule(match=r"^@assistant ", reply="Let me look at the failure summary again."),
        ],
        default=Rule(reply="Noted."),
    )


DEVELOPER_STEPS: list[tuple[str, str]] = [
    ("@agent code improvement #2025-07-12 file_id={file_id} [vibe: оптимизировать adjust_to_monday]", "@all Updated"),
    ("@agent code test #aggr_trades", "check test #aggr_trades"),
    ("@agent commit [msg: Оптимизирована функция]", "Committed "),
]


class Transcript:
    """Prints each turn of the mock conversation once, labelled by actor."""

    STYLES = {"developer": "bold cyan", "assistant": "bold magenta", "mcp": "bold green"}

    def __init__(self, console: Console) -> None:
        self.console = console
        self.shown: set[str] = set()

    def show(self, turns: list[Message]) -> None:
        for turn in turns:
            if turn.id in self.shown or turn.status == "streaming":
                continue
            self.shown.add(turn.id)
            actor = "assistant" if turn.role == "assistant" else "mcp" if turn.markdown.rstrip().endswith(SIGNATURE) else "developer"
            self.console.rule(f"[{self.STYLES[actor]}]{actor}[/]")
            self.console.print(turn.markdown, markup=False, highlight=False)


def wait_turn(client: MockChatClient, transcript: Transcript, marker: str, after: int, stop: Callable[[], bool]) -> None:
    """Wait until a post of the bot containing `marker` appears after turn `after` and the chat settles."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while time.monotonic() < deadline and not stop():
        turns = client.messages(CHAT_ID)
        transcript.show(turns)
        posts = [t for t in turns[after:] if t.role == "user" and t.markdown.rstrip().endswith(SIGNATURE)]
        if any(marker in t.markdown for t in posts) and turns[-1].role == "assistant" and turns[-1].status != "streaming":
            return
        time.sleep(0.2)
    raise TimeoutError(f"no post of the bot with {marker!r} within {STEP_TIMEOUT:.0f}s")


def wait_attached(journal: Journal, chat_id: str, stop: Callable[[], bool]) -> None:
    """Until the bridge has attached to the conversation (so the first command counts as new)."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while not journal.get(chat_id, ATTACHED, False):
        if stop() or time.monotonic() > deadline:
            raise TimeoutError("the bridge did not attach to the chat")
        time.sleep(0.1)


def run_demo(settings: Settings, *, port: int, stay: bool, console: Console, fixture: Fixture = "classic") -> bool:
    """Play the workflow on a fixture; with `stay`, keep the chat and bridge up for a person until Ctrl-C."""
    root = Path(tempfile.mkdtemp(prefix="devspace-demo-"))
    project = copy_example(root / "trade_report")  # the demo never touches the repository's own files
    settings = settings.model_copy(update={"home": root / "home", "project": project})
    settings.chat.profile = "grok" if fixture == "grok-2026" else "mock"
    settings.chat.selectors_file = None
    settings.chat.driver = "playwright"
    standin = start_standin(settings)
    orchestrator = make_orchestrator(settings)
    file_id = next(e.file_id for e in orchestrator.executor.run(FilesRequest()) if e.path == "src/date.rs")
    app = create_app(ScriptedAssistant(script(file_id)), MockOptions(ui=fixture))
    server = BackgroundServer(app, port=port, timeout_graceful_shutdown=1).start()
    client = MockChatClient(server.url)
    settings.chat.storage_state = client.write_storage_state(root / "session.json")
    if fixture == "grok-2026":  # turns typed elsewhere are pushed to the page; nothing to reload
        url, attachment = client.grok_url(CHAT_ID), Attachment(url=client.grok_url(CHAT_ID, live=1), second_session=False)
    else:
        url = client.chat_url(CHAT_ID)
        attachment = Attachment(url=url)
    bridge = make_bridge(settings, orchestrator, attachment)

    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=lambda: loop.run_until_complete(run_until_stopped(bridge, stop)), daemon=True)
    console.print(f"[bold]Colloqium DevSpace demo[/] · {fixture} mock chat at {server.url} · project copy at {project}")
    thread.start()
    transcript = Transcript(console)
    ok = False
    try:
        wait_attached(bridge.journal, bridge.chat_id, lambda: not thread.is_alive())  # the empty conversation first
        for text, marker in DEVELOPER_STEPS + role_steps(orchestrator.executor):
            after = len(client.messages(CHAT_ID))
            client.inject(CHAT_ID, text.format(file_id=file_id))
            wait_turn(client, transcript, marker, after, lambda: not thread.is_alive())
        ok = True
        repo = git.Repo(orchestrator.executor.run(StatusRequest()).workspace)
        console.rule("[bold]done")
        for commit in reversed(list(repo.iter_commits())[:-1]):  # the demo's commits, the crate's import aside
            console.print(f"commit {commit.hexsha[:10]} by {commit.author.name} <{commit.author.email}>: {commit.summary}")
        console.print(f"chat: {url}  (log in on the page with any name)")
        if stay:
            console.print("The bridge stays attached: type `@agent help` in the chat. Ctrl-C to stop.")
            while thread.is_alive():
                time.sleep(0.5)
                transcript.show(client.messages(CHAT_ID))
    except KeyboardInterrupt:
        console.print("stopping")
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        client.close()
        server.stop()
        standin.stop()
    return ok
