"""A small OpenAI-compatible server: scripted outcomes, a reply rule, a record of requests.

The tests start it in place of the LLM vendor; `devspace demo` embeds it as the agent roles' stand-in,
so that the demo needs no account and no key.

    with FakeLLM() as llm:
        llm.script([Outcome.fail(429, retry_after="1"), "the answer"])
        client = OpenAI(base_url=llm.base_url, api_key="k")
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from sandbox.serving import BackgroundServer

ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    429: "rate_limit_error",
}


class Outcome(BaseModel):
    """One scripted response: a reply (status 200), or an HTTP error with headers and an OpenAI-style body."""

    text: str = ""
    status: int = 200
    headers: dict[str, str] = Field(default_factory=dict)
    error: str = "scripted failure"
    delay: float = Field(default=0.0, description="seconds to wait before answering")
    finish_reason: str = "stop"
    refusal: str | None = Field(default=None, description="the model declines: no content, this refusal")
    raw: str | None = Field(default=None, description="a 200 whose body is this text as it is (a malformed answer)")

    @classmethod
    def refuse(cls, refusal: str = "I can't help with that.") -> Outcome:
        return cls(refusal=refusal)

    @classmethod
    def malformed(cls, body: str = '{"choices": [') -> Outcome:
        return cls(raw=body)

    @classmethod
    def fail(cls, status: int, error: str = "scripted failure", *, retry_after: str | None = None, **headers: str) -> Outcome:
        """An error response; `retry_after` becomes the Retry-After header, other headers as given."""
        if retry_after is not None:
            headers["Retry-After"] = retry_after
        return cls(status=status, error=error, headers={k.replace("_", "-"): v for k, v in headers.items()})

    def error_body(self) -> dict[str, Any]:
        kind = ERROR_TYPES.get(self.status, "server_error" if self.status >= 500 else "invalid_request_error")
        return {"error": {"message": self.error, "type": kind, "param": None, "code": kind}}


class RecordedRequest(BaseModel):
    """A request as the server saw it; `at` is a monotonic timestamp of its arrival."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None = None
    at: float

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list((self.body or {}).get("messages", []))

    @property
    def prompt(self) -> str:
        """Every message's content, one after another."""
        return "\n".join(str(m.get("content", "")) for m in self.messages)


Rule = Callable[[RecordedRequest], "str | Outcome"]


class FakeLLM:
    """`POST /v1/chat/completions` (plain and SSE streaming) and `GET /v1/models` on a loopback port.

    Each completion takes the next scripted outcome; when the script is empty, the `rule`'s answer
    to the request; without a rule, `default_reply`. With `api_key` set, other keys get a 401.
    """

    def __init__(
        self,
        *,
        default_reply: str = "OK",
        rule: Rule | None = None,
        api_key: str | None = None,
        model: str = "fake-model",
        chunk_chars: int = 8,
    ) -> None:
        self.default_reply = default_reply
        self.rule = rule
        self.api_key = api_key
        self.model = model
        self.chunk_chars = chunk_chars
        self._script: deque[Outcome] = deque()
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.app = self._build_app()
        self._server = BackgroundServer(self.app)

    @property
    def base_url(self) -> str:
        return f"{self._server.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request so far, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def completions(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]

    @property
    def pending(self) -> int:
        """Scripted outcomes not used yet."""
        with self._lock:
            return len(self._script)

    def script(self, outcomes: Iterable[str | Outcome]) -> None:
        """Queue outcomes for the next completions: a string is a reply, an Outcome anything else."""
        with self._lock:
            self._script.extend(o if isinstance(o, Outcome) else Outcome(text=o) for o in outcomes)

    def start(self) -> FakeLLM:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> FakeLLM:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _record(self, request: Request, body: dict[str, Any] | None) -> RecordedRequest:
        recorded = RecordedRequest(
            method=request.method, path=request.url.path, headers=dict(request.headers), body=body, at=time.monotonic()
        )
        with self._lock:
            self._requests.append(recorded)
        return recorded

    def _next(self, recorded: RecordedRequest) -> Outcome:
        with self._lock:
            if self._script:
                return self._script.popleft()
        if self.rule is None:
            return Outcome(text=self.default_reply)
        answer = self.rule(recorded)
        return answer if isinstance(answer, Outcome) else Outcome(text=answer)

    def _unauthorized(self, recorded: RecordedRequest) -> Response | None:
        if self.api_key is None or recorded.headers.get("authorization") == f"Bearer {self.api_key}":
            return None
        return JSONResponse(Outcome(status=401, error="Incorrect API key provided.").error_body(), status_code=401)

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/models")
        async def models(request: Request) -> Response:
            recorded = self._record(request, None)
            refused = self._unauthorized(recorded)
            if refused is not None:
                return refused
            model = {"id": self.model, "object": "model", "created": int(time.time()), "owned_by": "fake-llm"}
            return JSONResponse({"object": "list", "data": [model]})

        @app.post("/v1/chat/completions")
        async def completions(request: Request) -> Response:
            try:
                body = await request.json()
            except json.JSONDecodeError:
                body = None
            recorded = self._record(request, body if isinstance(body, dict) else None)
            refused = self._unauthorized(recorded)
            if refused is not None:
                return refused
            if recorded.body is None or not recorded.messages:
                failure = Outcome(status=400, error="'messages' is required")
                return JSONResponse(failure.error_body(), status_code=400)
            outcome = self._next(recorded)
            if outcome.delay:
                await asyncio.sleep(outcome.delay)
            if outcome.status != 200:
                return JSONResponse(outcome.error_body(), status_code=outcome.status, headers=outcome.headers)
            if outcome.raw is not None:
                return Response(outcome.raw, media_type="application/json", headers=outcome.headers)
            model = str(recorded.body.get("model") or self.model)
            if recorded.body.get("stream"):
                return StreamingResponse(self._chunks(outcome.text, model), media_type="text/event-stream", headers=outcome.headers)
            return JSONResponse(self._completion(outcome, model, recorded), headers=outcome.headers)

        return app

    def _completion(self, outcome: Outcome, model: str, recorded: RecordedRequest) -> dict[str, Any]:
        """A chat completion; tokens are counted as words."""
        prompt_tokens = len(recorded.prompt.split())
        completion_tokens = len(outcome.text.split())
        message = {"role": "assistant", "content": outcome.text if outcome.refusal is None else None, "refusal": outcome.refusal}
        return {
            "id": f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": outcome.finish_reason}],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _chunks(self, text: str, model: str) -> Iterator[str]:
        """Server-sent events as OpenAI streams them: a role delta, content deltas, a stop, `[DONE]`."""
        base = {"id": f"chatcmpl-fake-{next(self._ids)}", "object": "chat.completion.chunk", "created": int(time.time()), "model": model}
        pieces = [text[i : i + self.chunk_chars] for i in range(0, len(text), self.chunk_chars)]
        deltas: list[tuple[dict[str, str], str | None]] = [({"role": "assistant", "content": ""}, None)]
        deltas += [({"content": piece}, None) for piece in pieces]
        deltas.append(({}, "stop"))
        for delta, finish in deltas:
            chunk = {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"
