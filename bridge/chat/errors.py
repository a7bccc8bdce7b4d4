"""Typed states of the chat page that the runner reacts to, instead of timeouts."""

from __future__ import annotations

from pathlib import Path


class ChatError(Exception):
    """Base: the chat page is not in a state where reading or posting can go on."""


class LoggedOut(ChatError):
    """The page shows the logged-out gate: run `devspace login` again."""


class Challenge(ChatError):
    """A captcha or bot check is on screen; a person must solve it (never done automatically)."""


class ErrorBubble(ChatError):
    """The assistant's turn ended in the UI's error bubble instead of an answer."""

    def __init__(self, message_id: str, text: str) -> None:
        super().__init__(f"assistant error in message {message_id}: {text}")
        self.message_id = message_id
        self.text = text


class UIDrift(ChatError):
    """A profile selector matched nothing on the live page; a screenshot and the HTML were saved."""

    def __init__(self, name: str, selectors: list[str], artifacts: list[Path] | None = None, detail: str = "") -> None:
        shown = " | ".join(selectors)
        super().__init__(f"selector '{name}' ({shown}) matched nothing{': ' + detail if detail else ''}")
        self.name = name
        self.selectors = selectors
        self.artifacts = artifacts or []


class PageStalled(ChatError):
    """The page did not become idle, or stopped answering, within its time bound."""


class BrowserGone(ChatError):
    """The browser, its context or the page closed or crashed."""


class PostUnconfirmed(ChatError):
    """A post was sent but its turn never showed; not retried, so nothing is posted twice."""


class LastSeenMissing(ChatError):
    """The last seen message is not in the conversation, even after scrolling to its start."""
