"""A small client of the mock chat's control API (tests, benchmarks, the demo)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bridge.chat.login import save_state
from bridge.mockchat.store import Message


class MockChatClient:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def chat_url(self, chat_id: str, **query: str | int) -> str:
        """A classic conversation page, with page options such as `live=1`, `window=12`, `lossy=1`, `composer="textarea"`."""
        suffix = "&".join(f"{k}={v}" for k, v in query.items())
        return f"{self.base_url}/chat/{chat_id}" + (f"?{suffix}" if suffix else "")

    def grok_url(self, chat_id: str | None = None, *, project: str | None = None, **query: str | int) -> str:
        """A grok-2026 page: `/c/<id>`, `/project/<id>?chat=<id>`, or a new chat (`/` or `/project/<id>`); `live=1` pushes others' turns."""
        params = ({"chat": chat_id} if project and chat_id else {}) | query
        path = f"/project/{project}" if project else f"/c/{chat_id}" if chat_id else "/"
        suffix = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.base_url}{path}" + (f"?{suffix}" if suffix else "")

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self._http.post(path, json=body or {})
        response.raise_for_status()
        return response.json()

    def messages(self, chat_id: str, tail: int | None = None) -> list[Message]:
        """The chat's current branch as the server keeps it, held turns included (none for a chat nobody wrote in);
        `tail`: only the last N turns."""
        response = self._http.get(f"/control/chats/{chat_id}/messages", params={"tail": tail} if tail else None)
        if response.status_code == 404:
            return []
        response.raise_for_status()
        return [Message.model_validate(m) for m in response.json()]

    def wait_settled(self, chat_id: str, count: int, timeout: float = 20.0) -> list[Message]:
        """The chat's turns once it holds at least `count` and none is still being written."""
        deadline = time.monotonic() + timeout
        while True:
            turns = self.messages(chat_id)
            if len(turns) >= count and all(t.status != "streaming" for t in turns):
                return turns
            if time.monotonic() > deadline:
                raise TimeoutError(f"chat {chat_id} did not settle at {count} turns: {[t.status for t in turns]}")
            time.sleep(0.05)

    def inject(
        self, chat_id: str, text: str, *, role: str = "user", reply: bool = True, thinking: str = "",
        held: bool = False, before: str | None = None,
    ) -> str:
        """A turn added server-side (as if typed in another session); its id. `thinking`: an assistant turn's thinking
        section; `held`: pages show its reply but not the turn until `release`; `before`: the server orders it before
        that turn (pages see it at their next load; no reply)."""
        body = {"text": text, "role": role, "reply": reply, "thinking": thinking, "held": held, "before": before}
        return str(self._post(f"/control/chats/{chat_id}/messages", body)["id"])

    def release(self, chat_id: str, message_id: str) -> None:
        """A held turn: pages show it from their next load on (it is never pushed)."""
        self._post(f"/control/chats/{chat_id}/messages/{message_id}/release")

    def edit(self, chat_id: str, message_id: str, text: str) -> str:
        """An earlier user turn edited: a new turn (its id) replaces it and what followed, and is answered."""
        return str(self._post(f"/control/chats/{chat_id}/messages/{message_id}/edit", {"text": text})["id"])

    def regenerate(self, chat_id: str, answer_id: str) -> str:
        """A new answer (its id) replaces `answer_id` and what followed it."""
        return str(self._post(f"/control/chats/{chat_id}/messages/{answer_id}/regenerate")["id"])

    def delete(self, chat_id: str, message_id: str) -> None:
        response = self._http.delete(f"/control/chats/{chat_id}/messages/{message_id}")
        response.raise_for_status()

    def recreate(self, chat_id: str) -> None:
        """The chat recreated under the same id: every turn gone."""
        self._post(f"/control/chats/{chat_id}/recreate")

    def set_chat(self, chat_id: str, **switches: Any) -> None:
        """Per-chat switches: `error_next="text"`, `stall=True`, `rate_limit=True` (grok-2026 pages)."""
        self._post(f"/control/chats/{chat_id}/state", switches)

    def set_room(self, **switches: Any) -> None:
        """Room switches: `challenge=True`, `logout_all=True`."""
        self._post("/control/state", switches)

    def reset(self) -> None:
        self._post("/control/reset")

    def storage_state(self) -> dict[str, Any]:
        """A Playwright storage state holding a fresh logged-in session."""
        cookie = self._post("/control/sessions")
        host = urlsplit(self.base_url).hostname or "127.0.0.1"
        entry = {"name": cookie["name"], "value": cookie["value"], "domain": host, "path": "/", "expires": -1,
                 "httpOnly": True, "secure": False, "sameSite": "Lax"}
        return {"cookies": [entry], "origins": []}

    def write_storage_state(self, path: Path) -> Path:
        """The storage state saved as a private (0600) file."""
        return save_state(path, self.storage_state())
