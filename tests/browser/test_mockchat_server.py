"""The mock chat over real HTTP: login gate, the posting stream, the scripted and OpenAI-backed assistant,
live push, the virtualized history, the lossy renderer, the control API and the standalone command."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bridge.mockchat.app import SESSION_COOKIE, MockOptions, create_app
from bridge.mockchat.assistant import OpenAIAssistant, Rule, Script, ScriptedAssistant, Turn, load_script, pieces
from bridge.mockchat.client import MockChatClient
from sandbox.serving import BackgroundServer, free_port
from tests.support.fake_llm import FakeLLM, Outcome

RULES = Path(__file__).with_name("rules.yaml")
SCRIPT = Script(
    rules=[
        Rule(match=r"(?i)echo (\w+)", reply=r"You said \1."),
        Rule(match="(?i)break", reply="Half an answer", error="Something went wrong."),
        Rule(match="(?i)code", reply="```diff\n+\tx  \n```", chunk=2),
    ],
    delay_ms=1,
)


@pytest.fixture
def server() -> Iterator[BackgroundServer]:
    with BackgroundServer(create_app(ScriptedAssistant(SCRIPT)), timeout_graceful_shutdown=1) as running:
        yield running


@pytest.fixture
def session(server: BackgroundServer) -> Iterator[httpx.Client]:
    token = MockChatClient(server.url).storage_state()["cookies"][0]["value"]
    with httpx.Client(base_url=server.url, cookies={SESSION_COOKIE: token}, timeout=10) as client:
        yield client


def post(client: httpx.Client, chat: str, text: str) -> list[dict]:
    response = client.post(f"/api/chat/{chat}/messages", json={"text": text})
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines() if line.strip()]


def test_the_page_is_gated_until_the_login_form_sets_a_session(server):
    with httpx.Client(base_url=server.url) as anonymous:
        gated = anonymous.get("/chat/c1").text
        assert 'data-testid="anon-paywall-sign-up-card"' in gated and "contenteditable" not in gated
        assert anonymous.post("/api/chat/c1/messages", json={"text": "hi"}).status_code == 401
        assert anonymous.post("/login", data={"username": "", "next": "/chat/c1"}).status_code == 400
        login = anonymous.post("/login", data={"username": "dev", "password": "pw", "next": "/chat/c1"})
        assert (login.status_code, login.headers["location"]) == (303, "/chat/c1")
        page = anonymous.get("/chat/c1").text
        assert 'div class="tiptap ProseMirror" contenteditable="true"' in page and 'data-testid="chat-submit"' in page
        assert anonymous.post("/login", data={"username": "dev", "next": "//evil.example"}).headers["location"] == "/"


def test_a_post_streams_the_user_turn_then_the_reply_token_by_token(session):
    lines = post(session, "c1", "please echo banana")
    assert [(x["status"], x["markdown"]) for x in lines[:1]] == [("done", "please echo banana")]
    reply = lines[1:]
    assert {x["id"] for x in reply} == {reply[0]["id"]} and reply[0]["id"] != lines[0]["id"]
    assert [x["markdown"] for x in reply] == ["", "You", "You said", "You said banana.", "You said banana."]
    assert [x["status"] for x in reply] == ["streaming"] * 4 + ["done"]
    assert 'data-testid="assistant-message"' in reply[-1]["html"] and 'data-testid="copy-button"' in reply[-1]["html"]
    assert f'id="response-{reply[0]["id"]}"' in reply[0]["html"] and "copy-button" not in reply[0]["html"]


def test_every_turn_is_answered_and_failures_end_in_an_error_bubble(session, server):
    control = MockChatClient(server.url)
    assert post(session, "c1", "anything at all")[-1]["markdown"] == "Noted."
    broken = post(session, "c1", "break please")[-1]
    assert (broken["status"], broken["markdown"]) == ("error", "Half an answer")
    assert 'data-testid="error-bubble"' in broken["html"] and "Something went wrong." in broken["html"]
    control.set_chat("c1", error_next="Rate limit reached.")
    switched = post(session, "c1", "echo again")[-1]
    assert (switched["status"], switched["markdown"]) == ("error", "")
    assert post(session, "c1", "echo again")[-1]["markdown"] == "You said again."
    assert [t.status for t in control.messages("c1")] == ["done", "done", "done", "error", "done", "error", "done", "done"]


def test_a_stalled_reply_stays_streaming_until_released(server):
    control = MockChatClient(server.url)
    control.set_chat("c2", stall=True)
    control.inject("c2", "echo stalled")
    time.sleep(0.3)
    assert [t.status for t in control.messages("c2")] == ["done", "streaming"]
    control.set_chat("c2", stall=False)
    assert control.wait_settled("c2", 2)[1].markdown == "You said stalled."


def test_live_push_sends_turns_typed_in_other_sessions(session, server):
    control = MockChatClient(server.url)
    with session.stream("GET", "/api/chat/c3/events") as events:
        lines = events.iter_lines()
        assert next(lines) == ": connected"
        control.inject("c3", "typed elsewhere", reply=False)
        data = next(line for line in lines if line.startswith("data: "))
    assert json.loads(data[6:])["markdown"] == "typed elsewhere"


def test_a_virtualized_page_holds_the_last_turns_and_serves_older_ones_on_request(session, server):
    control = MockChatClient(server.url)
    ids = [control.inject("c4", f"turn {i}", reply=False) for i in range(30)]
    page = session.get("/chat/c4?window=12").text
    assert page.count('class="message-bubble') == 12 and 'data-has-more="1"' in page
    assert f'id="response-{ids[18]}"' in page and f'id="response-{ids[17]}"' not in page
    older = session.get("/api/chat/c4/messages", params={"before": ids[18], "limit": 12}).json()
    assert [x["id"] for x in older["items"]] == ids[6:18] and older["has_more"] is True
    oldest = session.get("/api/chat/c4/messages", params={"before": ids[6], "limit": 12}).json()
    assert [x["id"] for x in oldest["items"]] == ids[:6] and oldest["has_more"] is False


def test_the_lossy_renderer_rewrites_code_but_the_raw_markdown_stays_exact(session):
    session.post("/api/chat/c5/messages", json={"text": "```diff\n+    \tlet x;\n```"})
    lossy, exact = session.get("/chat/c5?lossy=1").text, session.get("/chat/c5").text
    assert "+        let x;" in lossy and "+    \tlet x;" in exact
    assert '"```diff\\n+    \\tlet x;\\n```"' in lossy, "the Copy button's raw markdown is not rewritten"


def test_html_in_a_message_is_shown_as_text(session):
    post(session, "c6", '<code_file name="src/x.rs">fn x() {}</code_file> <script>alert(1)</script>')
    page = session.get("/chat/c6").text
    assert "&lt;code_file name=&quot;src/x.rs&quot;&gt;" in page and "<script>alert(1)" not in page


def test_reset_forgets_chats_but_keeps_sessions(session, server):
    control = MockChatClient(server.url)
    post(session, "c7", "hello")
    control.reset()
    assert control.messages("c7") == []
    assert "contenteditable" in session.get("/chat/c7").text


def test_the_assistant_can_be_an_openai_compatible_endpoint():
    with FakeLLM(default_reply="Hello\tfrom the model  ", chunk_chars=3) as llm:
        assistant = OpenAIAssistant("fake-model", base_url=llm.base_url, api_key="k")
        with BackgroundServer(create_app(assistant, MockOptions()), timeout_graceful_shutdown=1) as server:
            control = MockChatClient(server.url)
            control.inject("c1", "first question")
            assert control.wait_settled("c1", 2)[1].markdown == "Hello\tfrom the model  "
            llm.script([Outcome.fail(400, "bad request")])
            control.inject("c1", "second question")
            turns = control.wait_settled("c1", 4)
            assert (turns[3].status, turns[3].error) == ("error", "Something went wrong: BadRequestError")
        sent = llm.completions[0].messages
        assert sent == [{"role": "user", "content": "first question"}]
        assert [m["content"] for m in llm.completions[1].messages] == ["first question", "Hello\tfrom the model  ", "second question"]


def test_scripts_load_from_yaml_and_stream_pieces_that_join_exactly(tmp_path, aio):
    script = load_script(RULES)
    assert script.default.reply == "Noted." and "\t" in script.rules[0].reply
    listed = tmp_path / "list.yaml"
    listed.write_text("- match: hi\n  reply: hello\n", encoding="utf-8")
    assert load_script(listed).rules == [Rule(match="hi", reply="hello")]
    text = "  a\tb  \n\n```\n\tc  \n```  "
    assert "".join(pieces(text, None)) == text and "".join(pieces(text, 4)) == text

    async def collect() -> list[str]:
        return [p async for p in ScriptedAssistant(SCRIPT).stream([Turn(role="user", content="code")])]

    assert aio.run(collect()) == ["``", "`d", "if", "f\n", "+\t", "x ", " \n", "``", "`"]


def test_the_standalone_command_serves_the_mock(tmp_path):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bridge.mockchat", "--port", str(port), "--script", str(RULES), "--window", "12"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/", follow_redirects=False)
                break
            except httpx.ConnectError:
                assert time.monotonic() < deadline and proc.poll() is None, "the mock chat did not start"
                time.sleep(0.1)
        assert response.status_code == 307 and response.headers["location"].startswith("/chat/")
        control = MockChatClient(f"http://127.0.0.1:{port}")
        control.inject("c1", "please send the slow patch")
        assert "```diff" in control.wait_settled("c1", 2)[1].markdown
    finally:
        proc.terminate()
        proc.wait(10)


def test_history_changes_fork_the_branch_pages_show_and_the_history_api_keeps_every_turn(session, server):
    control = MockChatClient(server.url)
    first = control.inject("h1", "echo one")
    second = control.inject("h1", "echo two")
    turns = control.wait_settled("h1", 4)
    edited = control.edit("h1", second, "echo three")
    assert [t.markdown for t in control.wait_settled("h1", 4)] == ["echo one", "You said one.", "echo three", "You said three."]
    assert edited == control.messages("h1")[2].id and control.messages("h1")[2].parent == turns[1].id
    again = control.regenerate("h1", control.messages("h1")[3].id)
    assert [t.id for t in control.wait_settled("h1", 4)][3] == again
    api = session.get("/rest/app-chat/conversations/h1/responses").json()["responses"]
    assert {r["responseId"] for r in api} >= {t.id for t in turns}, "the history API keeps the old branches"
    control.delete("h1", first)
    assert [t.markdown for t in control.messages("h1")] == ["You said one.", "echo three", "You said three."]
    assert first not in {r["responseId"] for r in session.get("/rest/app-chat/conversations/h1/responses").json()["responses"]}
    control.recreate("h1")
    assert control.messages("h1") == [] and "contenteditable" in session.get("/chat/h1").text


def test_a_held_turn_shows_its_reply_first_and_itself_only_after_release_at_the_next_load(session, server):
    control = MockChatClient(server.url)
    control.inject("h2", "echo before", reply=False)
    with session.stream("GET", "/api/chat/h2/events") as events:
        lines = events.iter_lines()
        assert next(lines) == ": connected"
        held = control.inject("h2", "echo held", held=True)
        pushed = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
    assert pushed["id"] != held, "the reply is pushed, the turn it answers is not"
    turns = control.wait_settled("h2", 3)
    assert [t.held for t in turns] == [False, True, False] and turns[2].markdown == "You said held."
    page = session.get("/chat/h2").text
    assert f"response-{held}" not in page and f"response-{turns[2].id}" in page
    control.release("h2", held)
    page = session.get("/chat/h2").text
    assert page.index(f"response-{held}") < page.index(f"response-{turns[2].id}")
    early = control.inject("h2", "typed in another tab", reply=False, before=turns[2].id)
    assert [t.id for t in control.messages("h2")] == [turns[0].id, held, early, turns[2].id]
