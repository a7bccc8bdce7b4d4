"""A new sandbox verb is one declaration and one handler: declared in a module of its own (as a new
operation would be in sandbox/operations.py, its handler in LocalExecutor), it is a chat verb with
help and permissions, a REST route the HTTP client reaches, and an MCP tool, with nothing else edited.

The declaration must exist before the verb table is built, so the scenario runs in a fresh interpreter.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = r'''
from typing import Annotated

import anyio
from mcp import Client

from sandbox.executor import handles
from sandbox.fake import FakeExecutor
from sandbox.operations import Glob, Request, Topic, operation


# the declaration ------------------------------------------------------------------------------
@operation("count_lines", result=int, access="all", verb="code lines", usage="code lines [#glob]")
class CountLinesRequest(Request[int]):
    """count the lines of the project's files (only those matching a glob, if one is given)"""

    glob: Annotated[Glob | None, Topic] = None


# the handler ----------------------------------------------------------------------------------
class Executor(FakeExecutor):
    @handles(CountLinesRequest)
    def count_lines(self, glob: str | None = None) -> int:
        return sum(self.get_code(file_id=entry.file_id).text.count("\n") for entry in self.files(glob))


# everything else derives from them --------------------------------------------------------------
import secrets
import tempfile
from pathlib import Path

from bridge.config import load_settings
from bridge.journal import Journal
from bridge.models import ChatMessage
from bridge.orchestrator import Orchestrator
from bridge.protocol import help_text, parse
from bridge.protocol.verbs import default_permissions
from sandbox.client import HttpExecutor
from sandbox.mcp_server import create_server
from sandbox.service import create_app
from sandbox.serving import BackgroundServer

executor = Executor({"src/lib.rs": "a\nb\nc\n", "src/main.rs": "d\n", "README.md": "e\n"})
assert "`@agent code lines [#glob]` — count the lines of the project's files" in help_text()
assert default_permissions()["code lines"] == ["developer", "assistant", "mcp"]
(command,) = parse("@agent code lines #*.rs").commands
assert command.verb == "code lines"

home = Path(tempfile.mkdtemp())
orchestrator = Orchestrator(executor, Journal(home / "journal.db"), load_settings(home=home))
orchestrator.handle(ChatMessage(id="m1", role="assistant", text="@agent code lines #*.rs", chat_id="c"))
(reply,) = orchestrator.journal.pending_replies("c")
assert "4" in reply.text, reply.text

token = secrets.token_urlsafe(24)
with BackgroundServer(create_app(executor, token)) as server:
    assert HttpExecutor(server.url, token).run(CountLinesRequest(glob="*.rs")) == 4


async def main() -> None:
    async with Client(create_server(executor)) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        assert "count_lines" in tools
        result = await client.call_tool("count_lines", {"glob": "*.md"})
        assert result.structured_content == {"result": 1}, result


anyio.run(main)
executor.close()
print("ok")
'''


def test_a_new_operation_is_a_declaration_and_a_handler() -> None:
    done = subprocess.run([sys.executable, "-c", SCENARIO], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("ok")
