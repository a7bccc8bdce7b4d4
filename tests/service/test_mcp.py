"""The sandbox's MCP tools through the SDK's own client: in-process, over streamable HTTP and over stdio."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import git
import httpx
import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CallToolResult, Implementation

from sandbox.local import LocalExecutor
from sandbox.mcp_server import create_server, http_app
from sandbox.models import Identity
from sandbox.operations import ApplyRequest, FilesRequest, StatusRequest
from sandbox.serving import BackgroundServer
from tests.support import patches

TOOLS = {
    "files", "get_code", "sandwich", "apply", "check_compile", "check_test", "check_degradation", "preflight", "commit", "undo", "status",
}
ADA = Identity(name="Ada Lovelace", email="ada@example.org")
"""The developer's identity, which the server is configured with."""
CLAUDE_CODE = Implementation(name="claude-code", version="2.0")
REPO = Path(__file__).resolve().parents[2]


def text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def in_process(server: Any, scenario: Callable[[Client], Awaitable[None]], client_info: Implementation | None = None) -> None:
    async def main() -> None:
        async with Client(server, client_info=client_info) as client:
            await scenario(client)

    anyio.run(main)


def test_the_eleven_tools_and_their_argument_schemas(local: LocalExecutor) -> None:
    async def scenario(client: Client) -> None:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(listed) == TOOLS
        assert all(tool.description for tool in listed.values())
        flt = listed["check_test"].input_schema["properties"]["filter"]["anyOf"][0]
        assert flt["pattern"].startswith("^[^-") and flt["maxLength"] == 200
        assert listed["sandwich"].input_schema["required"] == ["file_ids"]
        output = listed["check_compile"].output_schema
        assert output is not None and "diagnostics" in output["properties"]
        assert set(listed["commit"].input_schema["properties"]) == {"message"}  # the author is never the client's choice

    in_process(create_server(local), scenario)


@pytest.mark.cargo
def test_tools_work_the_workspace(local: LocalExecutor) -> None:
    async def scenario(client: Client) -> None:
        files = await client.call_tool("files", {"glob": "*.rs"})
        entries = files.structured_content["result"]
        date_id = next(e["file_id"] for e in entries if e["path"] == "src/date.rs")
        assert [e["path"] for e in entries] == [e.path for e in local.run(FilesRequest(glob="*.rs"))]

        code = await client.call_tool("get_code", {"path": "src/date.rs"})
        assert code.structured_content["file_id"] == date_id and "adjust_to_monday" in code.structured_content["text"]
        bundle = await client.call_tool("sandwich", {"file_ids": [date_id]})
        assert bundle.structured_content["paths"] == ["src/date.rs"]

        broken = await client.call_tool("apply", {"payload": patches.BROKEN, "file_id": date_id})
        assert not broken.is_error and broken.structured_content["changed"] == ["src/date.rs"]
        compiled = await client.call_tool("check_compile", {})
        assert compiled.structured_content["ok"] is False
        assert "check compile: FAILED" in text(compiled) and "E0308" in text(compiled)  # the bounded summary
        assert (await client.call_tool("undo", {})).structured_content["undone"] == "patch"

        refused = await client.call_tool("apply", {"payload": patches.MISPLACED})
        assert refused.structured_content["ok"] is False and "Patch refused" in text(refused)
        assert (await client.call_tool("apply", {"payload": patches.GOOD})).structured_content["ok"] is True
        tests = await client.call_tool("check_test", {"filter": "adjust_to_monday"})
        assert "check test #adjust_to_monday: OK" in text(tests) and tests.structured_content["filter"] == "adjust_to_monday"
        degradation = await client.call_tool("check_degradation", {})
        assert degradation.structured_content["ok"] is True and "0 regressions" in text(degradation)

        pending = await client.call_tool("status", {})
        assert pending.structured_content["pending"] == ["src/date.rs"]
        chosen = {"message": "Оптимизирована функция", "author_name": "Claude", "author_email": "claude@example.org"}
        done = await client.call_tool("commit", chosen)
        head = git.Repo(local.ws.tree).head.commit
        assert done.structured_content["sha"] == head.hexsha
        assert (head.author.name, head.author.email) == (ADA.name, ADA.email)  # the configured developer, not the client's pick
        reverted = await client.call_tool("undo", {})
        assert reverted.structured_content["undone"] == "commit"

    in_process(create_server(local, developers=["claude-code"], author=ADA), scenario, CLAUDE_CODE)


@pytest.mark.parametrize(
    ("tool", "arguments", "message"),
    [
        ("get_code", {"file_id": 3, "path": "src/lib.rs"}, "exactly one of file_id and path"),
        ("get_code", {}, "exactly one of file_id and path"),
        ("get_code", {"file_id": 0}, "greater than or equal to 1"),
        ("get_code", {"file_id": 9999}, "not_found: no file with file_id=9999"),
        ("get_code", {"path": "../etc/passwd"}, "path_refused:"),
        ("sandwich", {"file_ids": []}, "at least 1 item"),
        ("apply", {"payload": ""}, "at least 1 character"),
        ("check_test", {"filter": "--list"}, "must be a test name, with no leading '-' and no control characters"),
        ("check_test", {"filter": "a\nb"}, "must be a test name, with no leading '-' and no control characters"),
        ("apply", {"payload": patches.GOOD, "file_id": 9999}, "not_found: no file with file_id=9999"),
        ("commit", {"message": ""}, "at least 1 character"),
        ("commit", {"message": "nothing changed"}, "nothing_to_commit:"),
        ("undo", {}, "nothing_to_undo:"),
    ],
)
def test_bad_arguments_and_refusals_are_tool_errors(
    local: LocalExecutor, tool: str, arguments: dict[str, Any], message: str
) -> None:
    logs_before = sorted(local.ws.logs.iterdir())

    async def scenario(client: Client) -> None:
        result = await client.call_tool(tool, arguments)
        assert result.is_error and message in text(result)

    in_process(create_server(local, developers=["claude-code"], author=ADA), scenario, CLAUDE_CODE)
    assert sorted(local.ws.logs.iterdir()) == logs_before  # no cargo run was started for a refused call


@pytest.mark.parametrize("client_info", [None, CLAUDE_CODE, Implementation(name="cursor", version="1")], ids=["unnamed", "unlisted", "other"])
def test_a_client_not_named_as_the_developer_is_the_assistant(local: LocalExecutor, client_info: Implementation | None) -> None:
    """No commit and no undo for the assistant, whatever author it names; it may still read, patch and check."""
    local.run(ApplyRequest(payload=patches.GOOD))
    head = git.Repo(local.ws.tree).head.commit.hexsha
    developers = ["some-other-client"] if client_info is CLAUDE_CODE else []

    async def scenario(client: Client) -> None:
        chosen = {"message": "sneaky", "author_name": "Ada Lovelace", "author_email": "ada@example.org"}
        for tool, arguments in (("commit", chosen), ("commit", {"message": "sneaky"}), ("undo", {})):
            refused = await client.call_tool(tool, arguments)
            assert refused.is_error and f"`{tool}` is for the developer; this MCP client acts as the assistant" in text(refused)
        assert not (await client.call_tool("status", {})).is_error

    in_process(create_server(local, developers=developers, author=ADA), scenario, client_info)
    assert git.Repo(local.ws.tree).head.commit.hexsha == head  # nothing committed
    assert local.run(StatusRequest()).patches == 1  # nothing undone


def test_streamable_http_needs_the_token(local: LocalExecutor, token: str) -> None:
    with BackgroundServer(http_app(create_server(local), token)) as server:
        url = f"{server.url}/mcp"
        request = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        refused = httpx.post(url, json=request, headers={"Accept": "application/json"})
        assert refused.status_code == 401 and refused.json()["code"] == "unauthorized"

        async def main() -> None:
            async with (
                httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                status = await client.call_tool("status", {})
                assert status.structured_content["branch"] == "devspace/mcp"
                assert {t.name for t in (await client.list_tools()).tools} == TOOLS

        anyio.run(main)


def test_mcp_command_over_stdio(crate_copy: Path, tmp_path: Path) -> None:
    """`python -m sandbox mcp --project DIR` (stdio): the SDK's client launches it and calls a tool."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "sandbox", "mcp", "--project", str(crate_copy)],
        env={"DEVSPACE_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)},
        cwd=tmp_path,
    )

    async def main() -> None:
        async with Client(params) as client:
            files = await client.call_tool("files", {"glob": "src/date.rs"})
            assert [e["path"] for e in files.structured_content["result"]] == ["src/date.rs"]

    anyio.run(main)
    assert (tmp_path / "home" / "workspaces").is_dir()
