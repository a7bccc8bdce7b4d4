"""The mock chat's HTTP side: pages, the posting stream, live push, login, and a control API for tests."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, Literal

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field

from bridge.mockchat import render
from bridge.mockchat.assistant import Assistant, ScriptedAssistant
from bridge.mockchat.grok import RATE_LIMIT_TEXT, grok_routes
from bridge.mockchat.store import SESSION_COOKIE, ChatRoom, Conversation, Message

__all__ = ["SESSION_COOKIE", "MockOptions", "create_app"]
STATIC = Path(__file__).parent / "static"
KEEPALIVE = 15.0


class MockOptions(BaseModel):
    """Defaults for every page; a page's query string overrides them (`?composer=textarea&live=1&window=12&lossy=1`).

    Two UIs: `classic` pages at `/chat/<id>` (server-rendered, an editor-like composer, lazy history), and
    `grok-2026` pages at `/c/<id>` and `/project/<id>?chat=<id>` (grok.com as public tools describe it in
    autumn 2026: a virtualized transcript, Shiki code blocks, thinking sections, a tiptap composer, the
    gateway WebSocket and the REST history API). `ui` picks which one `/` opens.
    """

    ui: Literal["classic", "grok-2026"] = "classic"
    composer: Literal["contenteditable", "textarea"] = "contenteditable"
    live: bool = Field(default=False, description="push turns typed in other sessions (SSE) instead of needing a reload")
    window: int | None = Field(default=None, gt=0, description="virtualize: the page holds only the last N turns")
    lossy: bool = Field(default=False, description="render code like a lossy UI (tab after leading spaces -> 4 spaces)")


class PostBody(BaseModel):
    text: str


class InjectBody(BaseModel):
    text: str
    role: Literal["user", "assistant"] = "user"
    reply: bool = True
    thinking: str = Field(default="", description="an assistant turn's thinking section")
    held: bool = Field(default=False, description="a user turn pages do not show until it is released (its reply they do)")
    before: str | None = Field(default=None, description="placed before this turn, seen by pages at their next load (no reply)")


class EditBody(BaseModel):
    text: str


class ChatSwitches(BaseModel):
    error_next: str | None = Field(default=None, description="the next reply ends in an error bubble with this text")
    stall: bool | None = Field(default=None, description="replies being written stop advancing until cleared")
    rate_limit: bool | None = Field(default=None, description="grok-2026 pages: sends are refused with the rate-limit toast until cleared")


class RoomSwitches(BaseModel):
    challenge: bool | None = None
    logout_all: bool = False


def _settings(options: MockOptions, request: Request) -> dict[str, Any]:
    query = request.query_params
    composer = query.get("composer", options.composer)
    window = int(query["window"]) if query.get("window", "").isdigit() else options.window
    return {
        "composer": composer if composer in render.COMPOSERS else options.composer,
        "live": query["live"] == "1" if "live" in query else options.live,
        "window": window or None,
        "lossy": query["lossy"] == "1" if "lossy" in query else options.lossy,
    }


def _line(message: Message, lossy: bool) -> bytes:
    return (json.dumps(render.message_view(message, lossy=lossy), ensure_ascii=False) + "\n").encode()


async def _follow(queue: asyncio.Queue[Message], watched: set[str], last: str, lossy: bool) -> AsyncIterator[bytes]:
    """Updates of the watched turns until the `last` one stops streaming."""
    while True:
        message = await queue.get()
        if message.id in watched:
            yield _line(message, lossy)
            if message.id == last and message.status != "streaming":
                return


def create_app(assistant: Assistant | None = None, options: MockOptions | None = None) -> FastAPI:
    """The mock chat app; `app.state.room` holds its state."""
    opts = options or MockOptions()
    room = ChatRoom(assistant or ScriptedAssistant())
    app = FastAPI(title="Mock chat")
    app.state.room = room
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def logged_in(request: Request) -> bool:
        return request.cookies.get(SESSION_COOKIE) in room.sessions

    def require_login(request: Request) -> None:
        if not logged_in(request):
            raise HTTPException(status_code=401, detail="not logged in")

    app.include_router(grok_routes(room, opts.live, home=opts.ui == "grok-2026"))

    @app.get("/")
    async def home() -> RedirectResponse:
        return RedirectResponse(f"/chat/{uuid.uuid4()}", status_code=307)

    @app.get("/chat/{chat_id}", response_class=HTMLResponse)
    async def chat(chat_id: str, request: Request) -> HTMLResponse:
        if room.challenge:
            return HTMLResponse(render.challenge_page(), status_code=403)
        if not logged_in(request):
            return HTMLResponse(render.logged_out_page(request.url.path))
        settings = _settings(opts, request)
        messages, has_more = room.conversation(chat_id).page(settings["window"])
        return HTMLResponse(render.chat_page(chat_id, messages, has_more=has_more, settings=settings))

    @app.get("/login", response_class=HTMLResponse)
    async def login_form(next: str = "/") -> HTMLResponse:
        return HTMLResponse(render.login_page(next))

    @app.post("/login")
    async def login(username: str = Form(""), password: str = Form(""), next: str = Form("/")) -> Response:
        if not username.strip():
            return HTMLResponse(render.login_page(next), status_code=400)
        target = next if next.startswith("/") and not next.startswith("//") else "/"
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(SESSION_COOKIE, room.new_session(), httponly=True, samesite="lax")
        return response

    @app.get("/cdn-cgi/challenge-platform/{rest:path}")
    async def challenge_script(rest: str) -> Response:
        return Response("", media_type="text/javascript")

    @app.post("/api/chat/{chat_id}/messages")
    async def post_message(chat_id: str, body: PostBody, request: Request) -> StreamingResponse:
        require_login(request)
        conv = room.conversation(chat_id)
        lossy = _settings(opts, request)["lossy"]

        async def stream() -> AsyncIterator[bytes]:
            with conv.subscribe() as queue:
                user, answer = room.post(chat_id, body.text)
                async for line in _follow(queue, {user.id, answer.id}, answer.id, lossy):
                    yield line

        return StreamingResponse(stream(), media_type="application/x-ndjson")

    @app.get("/api/chat/{chat_id}/messages")
    async def older(chat_id: str, request: Request, before: str | None = None, limit: int = 12) -> JSONResponse:
        require_login(request)
        lossy = _settings(opts, request)["lossy"]
        items, has_more = room.conversation(chat_id).page(max(1, limit), before)
        return JSONResponse({"items": [render.message_view(m, lossy=lossy) for m in items], "has_more": has_more})

    @app.get("/api/chat/{chat_id}/messages/{message_id}/stream")
    async def resume(chat_id: str, message_id: str, request: Request) -> StreamingResponse:
        require_login(request)
        conv = room.conversation(chat_id)
        lossy = _settings(opts, request)["lossy"]

        async def stream() -> AsyncIterator[bytes]:
            with conv.subscribe() as queue:
                current = next((m for m in conv.messages if m.id == message_id), None)
                if current is None:
                    return
                yield _line(current, lossy)
                if current.status == "streaming":
                    async for line in _follow(queue, {message_id}, message_id, lossy):
                        yield line

        return StreamingResponse(stream(), media_type="application/x-ndjson")

    @app.get("/api/chat/{chat_id}/events")
    async def events(chat_id: str, request: Request) -> StreamingResponse:
        require_login(request)
        conv = room.conversation(chat_id)
        lossy = _settings(opts, request)["lossy"]

        async def stream() -> AsyncIterator[str]:
            with conv.subscribe() as queue:
                yield ": connected\n\n"
                while True:
                    try:
                        message = await asyncio.wait_for(queue.get(), KEEPALIVE)
                    except TimeoutError:
                        yield ": ping\n\n"
                        continue
                    yield f"data: {json.dumps(render.message_view(message, lossy=lossy), ensure_ascii=False)}\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"})

    @app.post("/api/chat/{chat_id}/stop")
    async def stop(chat_id: str, request: Request) -> dict[str, bool]:
        require_login(request)
        room.stop(chat_id)
        return {"ok": True}

    _control_routes(app, room)
    return app


def _control_routes(app: FastAPI, room: ChatRoom) -> None:
    """Test hooks: inject turns server-side, flip failure switches, mint sessions, reset."""

    def existing(chat_id: str) -> Conversation:
        if chat_id not in room.conversations:
            raise HTTPException(status_code=404, detail="no such chat")
        return room.conversations[chat_id]

    @app.post("/control/reset")
    async def reset() -> dict[str, bool]:
        room.reset()
        return {"ok": True}

    def turn(chat_id: str, message_id: str) -> Message:
        found = existing(chat_id).find(message_id)
        if found is None:
            raise HTTPException(status_code=404, detail="no such turn")
        return found

    @app.get("/control/chats/{chat_id}/messages")
    async def messages(chat_id: str, tail: int | None = None) -> list[Message]:
        """The current branch, held turns included (flagged); `tail`: only the last N."""
        branch = existing(chat_id).branch()
        return branch[-tail:] if tail else branch

    @app.post("/control/chats/{chat_id}/messages")
    async def inject(chat_id: str, body: InjectBody) -> dict[str, str | None]:
        conv = room.conversation(chat_id)
        if body.before is not None:
            if body.reply and body.role == "user":
                raise HTTPException(status_code=400, detail="a turn placed before another gets no reply (send reply=false)")
            return {"id": conv.insert_before(turn(chat_id, body.before), body.role, body.text).id, "reply_id": None}
        if body.role == "assistant" or not body.reply:
            return {"id": conv.add(body.role, body.text, thinking=body.thinking, held=body.held).id, "reply_id": None}
        user, answer = room.post(chat_id, body.text, held=body.held)
        return {"id": user.id, "reply_id": answer.id}

    @app.post("/control/chats/{chat_id}/messages/{message_id}/release")
    async def release(chat_id: str, message_id: str) -> dict[str, bool]:
        existing(chat_id).release(turn(chat_id, message_id))
        return {"ok": True}

    @app.post("/control/chats/{chat_id}/messages/{message_id}/edit")
    async def edit(chat_id: str, message_id: str, body: EditBody) -> dict[str, str | None]:
        old = turn(chat_id, message_id)
        if old.role != "user":
            raise HTTPException(status_code=400, detail="only a user turn can be edited")
        user, answer = room.edit(chat_id, old, body.text)
        return {"id": user.id, "reply_id": answer.id}

    @app.post("/control/chats/{chat_id}/messages/{message_id}/regenerate")
    async def regenerate(chat_id: str, message_id: str) -> dict[str, str | None]:
        old = turn(chat_id, message_id)
        if old.role != "assistant":
            raise HTTPException(status_code=400, detail="only an answer can be regenerated")
        return {"id": room.regenerate(chat_id, old).id, "reply_id": None}

    @app.delete("/control/chats/{chat_id}/messages/{message_id}")
    async def delete(chat_id: str, message_id: str) -> dict[str, bool]:
        existing(chat_id).delete(turn(chat_id, message_id))
        return {"ok": True}

    @app.post("/control/chats/{chat_id}/recreate")
    async def recreate(chat_id: str) -> dict[str, bool]:
        existing(chat_id)
        room.recreate(chat_id)
        return {"ok": True}

    @app.post("/control/chats/{chat_id}/state")
    async def chat_state(chat_id: str, body: ChatSwitches) -> dict[str, bool]:
        conv = room.conversation(chat_id)
        if "error_next" in body.model_fields_set:
            conv.error_next = body.error_next
        if body.stall is not None:
            conv.stall = body.stall
        if body.rate_limit is not None:
            conv.rate_limit = RATE_LIMIT_TEXT if body.rate_limit else None
        return {"ok": True}

    @app.post("/control/state")
    async def room_state(body: RoomSwitches) -> dict[str, bool]:
        if body.challenge is not None:
            room.challenge = body.challenge
        if body.logout_all:
            room.sessions.clear()
        return {"ok": True}

    @app.post("/control/sessions")
    async def new_session() -> dict[str, str]:
        return {"name": SESSION_COOKIE, "value": room.new_session()}
