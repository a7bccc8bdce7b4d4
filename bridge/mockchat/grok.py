"""The grok-2026 fixture's server side: grok.com's routes, its REST history API and its WebSocket gateway.

Shapes follow what public exporters and clients report of grok.com (2026-07 to 2026-10):

- pages: `/c/<id>` (`?rid=<responseId>` after a send), `/project/<id>?chat=<id>`, a new chat at `/`;
  a logged-out page goes to `accounts.<host>/sign-in` (here `accounts.localhost`, another origin), with
  `?redirect_ms=N` only that late, its shell and composer shown meanwhile;
- `GET /rest/user-settings` (200 logged in, 401 not);
- `GET /rest/app-chat/conversations/<id>/responses?includeThreads=false` -> `{"responses": [...]}` with
  `responseId`, `sender` (human | assistant), `parentResponseId`, `message` (raw markdown),
  `createTime`, `model`, `partial`; the lighter `…/response-node` and `POST …/load-responses`;
- the gateway `WS /ws/mgw/`: envelopes `{"session_id", "event": {"type", ...}}`; the client sends
  `session.create`, `conversation.item.create`, `response.create`, `response.cancel`; the server sends
  `session.created`, `conversation.attached`, `conversation.history.item`/`.done` (replayed on attach),
  `response.created`, `response.chunk` (`chunk.text.channel` tells thinking from answer),
  `response.done` (`response.status`: completed | failed), `error` (e.g. the rate limit).

Every server frame also carries `x_mock` (the turn's rendered HTML for the fixture page): plumbing
of this fixture, which the bridge never reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel

from bridge.mockchat import grok_render, render
from bridge.mockchat.store import SESSION_COOKIE, ChatRoom, Conversation, Message

ACCOUNTS_HOST = "accounts.localhost"
MODEL = "grok-4"
THINKING = "CHANNEL_THINKING"
ANSWER = "CHANNEL_ASSISTANT_RESPONSE"
RATE_LIMIT_TEXT = "You've reached your limit of 25 messages per 2 hours for Grok 4. Your limit resets in 1 hour 59 minutes."


class LoadBody(BaseModel):
    responseIds: list[str]  # noqa: N815 (grok's field name)


def response_item(message: Message) -> dict[str, Any]:
    """A turn as the history endpoint returns it."""
    return {
        "responseId": message.id,
        "message": message.markdown,
        "sender": "human" if message.role == "user" else "assistant",
        "createTime": datetime.fromtimestamp(message.created, UTC).isoformat().replace("+00:00", "Z"),
        "parentResponseId": message.parent,
        "partial": message.status == "streaming",
        "model": MODEL,
        "isControl": False,
    }


def grok_routes(room: ChatRoom, live: bool, *, home: bool) -> APIRouter:
    """Pages, REST and gateway of the grok-2026 fixture over `room`; `live` pushes other sessions' turns;
    `home`: `/` opens a new chat (grok's start page)."""
    router = APIRouter()

    def logged_in(request: Request | WebSocket) -> bool:
        return request.cookies.get(SESSION_COOKIE) in room.sessions

    def app_page(request: Request, chat_id: str | None, project_id: str | None = None) -> HTMLResponse:
        if room.challenge:
            return HTMLResponse(render.challenge_page(), status_code=403)
        query = request.query_params
        settings = {
            "chatId": chat_id,
            "projectId": project_id,
            "live": query["live"] == "1" if "live" in query else live,
            "accountsHost": ACCOUNTS_HOST,
            "redirectMs": int(query["redirect_ms"]) if query.get("redirect_ms", "").isdigit() else 0,
        }
        return HTMLResponse(grok_render.app_page(settings))

    def conversation(request: Request, chat_id: str) -> Conversation:
        if not logged_in(request):
            raise HTTPException(status_code=401, detail="not logged in")
        if chat_id not in room.conversations:
            raise HTTPException(status_code=404, detail="conversation not found")
        return room.conversations[chat_id]

    if home:

        @router.get("/", response_class=HTMLResponse)
        async def new_chat(request: Request) -> HTMLResponse:
            return app_page(request, None)

    @router.get("/c/{chat_id}", response_class=HTMLResponse)
    async def chat(chat_id: str, request: Request) -> HTMLResponse:
        return app_page(request, chat_id)

    @router.get("/project/{project_id}", response_class=HTMLResponse)
    async def project(project_id: str, request: Request, chat: str | None = None) -> HTMLResponse:
        return app_page(request, chat, project_id)

    @router.get("/rest/user-settings")
    async def user_settings(request: Request) -> JSONResponse:
        if not logged_in(request):
            return JSONResponse({"error": "unauthenticated"}, status_code=401)
        return JSONResponse({"preferences": {"model": MODEL}})

    @router.get("/rest/app-chat/conversations/{chat_id}/responses")
    async def responses(chat_id: str, request: Request) -> JSONResponse:
        return JSONResponse({"responses": [response_item(m) for m in conversation(request, chat_id).history()]})

    @router.get("/rest/app-chat/conversations/{chat_id}/response-node")
    async def response_nodes(chat_id: str, request: Request) -> JSONResponse:
        nodes = [{"responseId": m.id, "sender": response_item(m)["sender"], "parentResponseId": m.parent}
                 for m in conversation(request, chat_id).history()]
        return JSONResponse({"responseNodes": nodes})

    @router.post("/rest/app-chat/conversations/{chat_id}/load-responses")
    async def load_responses(chat_id: str, body: LoadBody, request: Request) -> JSONResponse:
        wanted = set(body.responseIds)
        return JSONResponse({"responses": [response_item(m) for m in conversation(request, chat_id).history() if m.id in wanted]})

    @router.get("/sign-in", response_class=HTMLResponse)
    async def sign_in_form(redirect: str = "/") -> HTMLResponse:
        return HTMLResponse(grok_render.sign_in_page(redirect))

    @router.post("/sign-in")
    async def sign_in(request: Request, email: str = Form(""), password: str = Form(""), redirect: str = Form("/")) -> Response:
        """The accounts origin signs in, then hands the session to the chat origin (single sign-on)."""
        target = urlsplit(redirect)
        if not email.strip() or target.port != request.url.port or target.hostname not in ("127.0.0.1", "localhost"):
            return HTMLResponse(grok_render.sign_in_page(redirect), status_code=400)
        back = target.path + (f"?{target.query}" if target.query else "")
        token = room.new_session()
        return RedirectResponse(f"{target.scheme}://{target.netloc}/_mock/sso?token={token}&next={back}", status_code=303)

    @router.get("/_mock/sso")
    async def single_sign_on(token: str, next: str = "/") -> Response:
        if token not in room.sessions or not next.startswith("/") or next.startswith("//"):
            raise HTTPException(status_code=400, detail="bad sign-on")
        response = RedirectResponse(next, status_code=303)
        response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="lax")
        return response

    @router.websocket("/ws/mgw/")
    async def gateway(ws: WebSocket) -> None:
        if not logged_in(ws):
            await ws.close(code=4401)
            return
        await ws.accept()
        await GatewayLink(ws, room, live=ws.query_params.get("live") == "1" or live).run()

    return router


class GatewayLink:
    """One page's gateway socket: replays a conversation on attach, then streams the turns it follows."""

    def __init__(self, ws: WebSocket, room: ChatRoom, *, live: bool) -> None:
        self.ws = ws
        self.room = room
        self.live = live
        self.session_id = ""
        self.conv: Conversation | None = None
        self.queue: asyncio.Queue[Message] = asyncio.Queue()
        self.followed: set[str] = set()
        self.sent: dict[str, tuple[int, int, str]] = {}  # id -> (answer chars, thinking chars, status) already sent
        self.pending_text: str | None = None
        self._subscription = contextlib.ExitStack()

    async def run(self) -> None:
        pump = asyncio.create_task(self._pump())
        try:
            while True:
                frame = await self.ws.receive_json()
                await self._handle(frame.get("event") or {}, frame.get("session_id") or "")
        except (WebSocketDisconnect, RuntimeError, ValueError):
            pass
        finally:
            pump.cancel()
            self._subscription.close()

    async def _send(self, event: dict[str, Any], view: dict[str, Any] | None = None) -> None:
        frame: dict[str, Any] = {"session_id": self.session_id, "event": {**event, "event_id": f"evt_{uuid.uuid4().hex}"}}
        if view is not None:
            frame["x_mock"] = view
        await self.ws.send_json(frame)

    async def _handle(self, event: dict[str, Any], session_id: str) -> None:
        kind = event.get("type")
        if kind == "session.create":
            self.session_id = session_id
            await self._send({"type": "session.created", "session": {"model": MODEL}})
            chat_id = ((event.get("session") or {}).get("x_grok") or {}).get("conversation_id")
            if chat_id:
                await self._attach(self.room.conversation(chat_id), replay=True)
        elif kind == "conversation.item.create":
            content = ((event.get("item") or {}).get("content") or [{}])[0]
            self.pending_text = str(content.get("text", ""))
        elif kind == "response.create" and self.pending_text is not None:
            await self._respond(self.pending_text)
            self.pending_text = None
        elif kind == "response.cancel" and self.conv is not None:
            self.room.stop(self.conv.id)

    async def _attach(self, conv: Conversation, *, replay: bool) -> None:
        self.conv = conv
        self._subscription.enter_context(self._into_queue(conv))
        await self._send({"type": "conversation.attached", "conversation": {"id": conv.id}})
        if not replay:
            return
        for message in list(conv.messages):
            self.sent[message.id] = (len(message.markdown), len(message.thinking), message.status)
            if message.status == "streaming":
                self.followed.add(message.id)
            kind = "input_text" if message.role == "user" else "output_text"
            item = {"id": message.id, "role": message.role, "status": message.status, "content": [{"type": kind, "text": message.markdown}]}
            await self._send({"type": "conversation.history.item", "item": item}, grok_render.turn_view(message))
        await self._send({"type": "conversation.history.done"})

    @contextlib.contextmanager
    def _into_queue(self, conv: Conversation) -> Any:
        with conv.subscribe() as queue:
            forward = asyncio.get_running_loop().create_task(self._forward(queue))
            try:
                yield
            finally:
                forward.cancel()

    async def _forward(self, source: asyncio.Queue[Message]) -> None:
        while True:
            await self.queue.put(await source.get())

    async def _respond(self, text: str) -> None:
        if self.conv is not None and self.conv.rate_limit:
            await self._send({"type": "error", "error": {"code": "rate_limit_exceeded", "message": self.conv.rate_limit}})
            return
        if self.conv is None:
            await self._attach(self.room.conversation(str(uuid.uuid4())), replay=False)
        assert self.conv is not None
        user, answer = self.room.post(self.conv.id, text)
        self.followed |= {user.id, answer.id}

    async def _pump(self) -> None:
        while True:
            await self._emit(await self.queue.get())

    async def _emit(self, message: Message) -> None:
        """A turn's change as gateway events, for turns this page follows (or every turn when live)."""
        if not (self.live or message.id in self.followed):
            return
        view = grok_render.turn_view(message)
        before = self.sent.get(message.id)
        self.sent[message.id] = (len(message.markdown), len(message.thinking), message.status)
        if message.role == "user":
            if before is None:
                await self._send({"type": "conversation.item.created", "item": {"id": message.id, "role": "user"}}, view)
            return
        if before is None:
            await self._send({"type": "response.created", "response": {"id": message.id, "status": "in_progress"}}, view)
            before = (0, 0, "streaming")
        answer, thinking, status = before
        if len(message.thinking) > thinking:
            await self._send({"type": "response.chunk", "chunk": {"text": {"text": message.thinking[thinking:], "channel": THINKING}}}, view)
        if len(message.markdown) > answer:
            await self._send({"type": "response.chunk", "chunk": {"text": {"text": message.markdown[answer:], "channel": ANSWER}}}, view)
        if status == "streaming" and message.status != "streaming":
            done: dict[str, Any] = {"id": message.id, "status": "failed" if message.status == "error" else "completed"}
            if message.error:
                done["error"] = {"message": message.error}
            await self._send({"type": "response.done", "response": done}, view)
