"""Selector profiles of chat UIs (`selectors.yaml`): pydantic models and the loader."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

PROFILES_FILE = "selectors.yaml"
REPO_FILE = Path(__file__).resolve().parents[2] / PROFILES_FILE
PACKAGED_FILE = Path(__file__).resolve().with_name(PROFILES_FILE)


def _non_empty(values: list[str]) -> list[str]:
    if not values or any(not v.strip() for v in values):
        raise ValueError("needs at least one non-empty selector")
    return values


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a regex: {exc}") from exc
    return value


Candidates = Annotated[list[str], AfterValidator(_non_empty)]
"""CSS selectors, most specific first: the first that matches is used."""
Regex = Annotated[str, AfterValidator(_regex)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Marker(Strict):
    """A page state shown by an element: present when it matches, is visible and (if given) its text matches
    `text`, a regex searched case-insensitively (in the page's JavaScript as in Python)."""

    selector: str
    text: Regex | None = None


class Composer(Strict):
    selectors: Candidates
    kind: Literal["auto", "contenteditable", "textarea"] = "auto"
    insert: Literal["insert_text", "paste"] = Field(
        default="insert_text", description="how a contenteditable receives the whole text in one step"
    )


class MessageId(Strict):
    """Where a message's stable id lives: an attribute on the container (or an ancestor) and a regex whose group 1 is the id."""

    attribute: str = "id"
    pattern: Regex = r"^response-(.+)$"
    template: str = "response-{id}"

    @field_validator("template")
    @classmethod
    def _has_placeholder(cls, value: str) -> str:
        if "{id}" not in value:
            raise ValueError("template must contain {id}")
        return value


class CodeLanguage(Strict):
    """Where a code block names its language: an attribute (None: the text) of the block, its code element, or of
    `selector` inside the block; group 1 of `pattern` is the language."""

    selector: str | None = None
    attribute: str | None = "class"
    pattern: Regex = r"language-([^\s]+)"


def _listed(value: object) -> object:
    return [value] if isinstance(value, dict) else value


class Messages(Strict):
    container: Candidates
    user: Candidates = Field(description="a container that is or holds one of these is a user turn")
    assistant: Candidates
    id: MessageId = MessageId()
    markdown: Candidates
    code_block: Candidates = Field(description="the element replaced by a fence; the outermost match wins")
    code_text: list[str] = Field(default_factory=lambda: ["code"], description="inside a code block: the exact code")
    code_language: Annotated[list[CodeLanguage], BeforeValidator(_listed)] = Field(
        default_factory=lambda: [CodeLanguage()], description="where a block names its language; the first that does wins"
    )
    exclude: list[str] = Field(default_factory=list, description="inside a turn: not part of its text (thinking sections)")
    copy_button: list[str] = Field(default_factory=list)
    turn: list[str] = Field(default_factory=list, description="ancestor holding a message's action bar, if not the container")
    finished: list[str] = Field(default_factory=list, description="if given, an assistant turn is complete only when one is present")
    order: Literal["document", "visual"] = Field(
        default="document", description="visual: rows are placed by transforms, so chat order is their order on screen"
    )
    virtualized: bool = Field(default=False, description="only the turns near the viewport are mounted: reading scrolls the transcript")
    scroller: list[str] = Field(default_factory=list, description="the transcript's scrolling element (default: a turn's scrollable ancestor)")


class Timing(Strict):
    stability_ms: int = Field(default=800, ge=0, description="an assistant text must stay unchanged this long")
    poll_ms: int = Field(default=1000, gt=0, description="fallback poll when no DOM change is reported")
    refresh_ms: int = Field(default=15000, gt=0, description="reload interval when attached as a second session")
    fresh_ms: int = Field(
        default=3000, gt=0, description="a second session posts from a page loaded at most this long ago, else it reloads first"
    )
    confirm_ms: int = Field(default=10000, gt=0, description="how long a post may take to show as a turn")
    idle_ms: int = Field(default=180000, gt=0, description="how long to wait for the assistant to finish before posting")
    copy_ms: int = Field(default=2000, gt=0, description="how long a Copy button may take to fill the clipboard")
    ready_ms: int = Field(default=30000, gt=0, description="how long a page may take to show its composer")
    scroll_ms: int = Field(default=5000, gt=0, description="how long a virtualized history may take to load older turns")


class StreamEvents(Strict):
    """A WebSocket of the page whose JSON frames carry the replies: which reply (by id) started and ended.

    Paths are dotted keys into a frame. A `done` event whose status is not in `completed` ended the reply
    in an error.
    """

    url: Regex = Field(description="matched against the socket's URL")
    type: str = "event.type"
    id: str = "event.response.id"
    status: str = "event.response.status"
    error: str = "event.response.error.message"
    created: list[str] = Field(default_factory=lambda: ["response.created"])
    done: list[str] = Field(default_factory=lambda: ["response.done"])
    completed: list[str] = Field(default_factory=lambda: ["completed"])


class HistoryApi(Strict):
    """The web app's own conversation history, fetched from the page (its origin, the user's session).

    `history` is a path with `{chat_id}`; the answer holds a list (at `items`) of turns whose fields are
    named below (dotted paths). Turns form a tree by `parent`; the branch the page shows is the one read.
    With `load`, turns that arrive after the last seen one while the page shows it are fetched alone, by
    the ids the page mounts after it (a long conversation is not fetched whole for each new turn); with `graph`
    too, no read fetches the whole history: the shape comes from the graph, the text of new turns by id.
    """

    history: str = Field(description="e.g. /rest/app-chat/conversations/{chat_id}/responses")
    load: str | None = Field(
        default=None, description="a POST path that returns the turns of given ids (body `{load_ids: [...]}`), for the new turns only"
    )
    load_ids: str = "responseIds"
    graph: str | None = Field(
        default=None,
        description="a GET path listing every turn's id, parent and sender without its text; with `load`, a read after a page "
        "load takes the conversation's shape from it and fetches the text of the window's new turns only",
    )
    graph_items: str = "responseNodes"
    items: str = "responses"
    id: str = "responseId"
    parent: str = "parentResponseId"
    role: str = "sender"
    text: str = "message"
    created: str = "createTime"
    partial: str | None = Field(default="partial", description="truthy while a reply is being written")
    hidden: str | None = Field(default="isControl", description="truthy: not a turn of the conversation")
    user: Regex = r"^(human|user)$"
    assistant: Regex = r"^(assistant|model)$"
    stream: StreamEvents | None = None

    @field_validator("history", "load")
    @classmethod
    def _names_the_chat(cls, value: str | None) -> str | None:
        if value is not None and ("{chat_id}" not in value or not value.startswith("/")):
            raise ValueError("must be a path on the page's origin with {chat_id}")
        return value

    def role_of(self, sender: str) -> Literal["user", "assistant"] | None:
        """A turn's role from its sender field (case-insensitive), or None for anything else."""
        if re.search(self.user, sender, re.I):
            return "user"
        if re.search(self.assistant, sender, re.I):
            return "assistant"
        return None


class Profile(Strict):
    name: str = ""
    url: str
    chat_id_patterns: Annotated[list[Regex], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)] = Field(
        default_factory=lambda: [r"/chat/([^/?#]+)"], description="regexes over the page URL; group 1 of the first that matches is the chat id"
    )
    composer: Composer
    send: Candidates
    messages: Messages
    streaming: list[Marker] = Field(default_factory=list)
    logged_out: list[Marker] = Field(default_factory=list)
    logged_out_urls: list[Regex] = Field(default_factory=list, description="page URLs that mean logged out (a sign-in page elsewhere)")
    session: str | None = Field(
        default=None,
        description="a path on the chat's origin that answers 200 while logged in, 401 or 403 when not (the page's own "
        "session check): a page is never taken as ready on a session it says is logged out, however late its redirect",
    )
    challenge: list[Marker] = Field(default_factory=list)
    rate_limited: list[Marker] = Field(default_factory=list, description="the UI refuses more messages for now")
    error: list[Marker] = Field(default_factory=list, description="inside a message: the turn failed")
    timing: Timing = Timing()
    code_route: Literal["dom", "copy"] = "dom"
    api: HistoryApi | None = Field(default=None, description="read messages from the web app's own history API")

    def selector_parts(self) -> list[tuple[str, list[str], bool]]:
        """Every selector by part: (name, candidates, whether the page must match one of them)."""
        m = self.messages
        return [
            ("composer", self.composer.selectors, True),
            ("send", self.send, True),
            ("messages.container", m.container, True),
            ("messages.user", m.user, False),
            ("messages.assistant", m.assistant, False),
            ("messages.markdown", m.markdown, True),
            ("messages.code_block", m.code_block, False),
            ("messages.code_text", m.code_text, False),
            ("messages.code_language", [c.selector for c in m.code_language if c.selector], False),
            ("messages.exclude", m.exclude, False),
            ("messages.copy_button", m.copy_button, self.code_route == "copy"),
            ("messages.turn", m.turn, bool(m.turn)),
            ("messages.finished", m.finished, False),
            ("messages.scroller", m.scroller, bool(m.scroller)),
            ("streaming", [x.selector for x in self.streaming], False),
            ("logged_out", [x.selector for x in self.logged_out], False),
            ("challenge", [x.selector for x in self.challenge], False),
            ("rate_limited", [x.selector for x in self.rate_limited], False),
            ("error", [x.selector for x in self.error], False),
        ]

    def chat_id(self, url: str) -> str:
        """The conversation id in a page URL, or '' (a new chat, or another page)."""
        for pattern in self.chat_id_patterns:
            found = re.search(pattern, url)
            if found:
                return found.group(1)
        return ""

    def is_logged_out_url(self, url: str) -> bool:
        return any(re.search(pattern, url) for pattern in self.logged_out_urls)


class ProfileError(ValueError):
    """The selectors file is missing, unreadable or invalid, or names no such profile."""


def default_path() -> Path:
    """The `selectors.yaml` at the top of a source checkout, else the copy a wheel or an install ships in the package."""
    return REPO_FILE if REPO_FILE.is_file() else PACKAGED_FILE


def load_profiles(path: Path | None = None) -> dict[str, Profile]:
    """Every profile of a selectors file (the repo's by default), validated."""
    source = path or default_path()
    try:
        document = yaml.safe_load(source.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ProfileError(f"cannot read selectors file {source}: {exc}") from exc
    if not isinstance(document, dict) or not isinstance(document.get("profiles"), dict):
        raise ProfileError(f"{source}: expected a mapping with a 'profiles' mapping")
    profiles: dict[str, Profile] = {}
    for name, body in document["profiles"].items():
        try:
            profiles[name] = Profile.model_validate({**(body or {}), "name": name})
        except ValidationError as exc:
            raise ProfileError(f"{source}: profile '{name}' is invalid:\n{exc}") from exc
    return profiles


def load_profile(name: str, path: Path | None = None) -> Profile:
    """One named profile; the error lists the names there are."""
    profiles = load_profiles(path)
    if name not in profiles:
        raise ProfileError(f"no profile '{name}' (have: {', '.join(sorted(profiles))})")
    return profiles[name]
