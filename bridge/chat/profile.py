"""Selector profiles of chat UIs (`selectors.yaml`): pydantic models and the loader."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    """A page state shown by an element: present when it matches, is visible and (if given) its text matches."""

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
    attribute: str = "class"
    pattern: Regex = r"language-([^\s]+)"


class Messages(Strict):
    container: Candidates
    user: Candidates = Field(description="a container that is or holds one of these is a user turn")
    assistant: Candidates
    id: MessageId = MessageId()
    markdown: Candidates
    code_block: Candidates = Field(description="the element replaced by a fence; the outermost match wins")
    code_text: list[str] = Field(default_factory=lambda: ["code"], description="inside a code block: the exact code")
    code_language: CodeLanguage = CodeLanguage()
    copy_button: list[str] = Field(default_factory=list)
    turn: list[str] = Field(default_factory=list, description="ancestor holding a message's action bar, if not the container")
    finished: list[str] = Field(default_factory=list, description="if given, an assistant turn is complete only when one is present")


class Timing(Strict):
    stability_ms: int = Field(default=800, ge=0, description="an assistant text must stay unchanged this long")
    poll_ms: int = Field(default=1000, gt=0, description="fallback poll when no DOM change is reported")
    refresh_ms: int = Field(default=15000, gt=0, description="reload interval when attached as a second session")
    confirm_ms: int = Field(default=10000, gt=0, description="how long a post may take to show as a turn")
    idle_ms: int = Field(default=180000, gt=0, description="how long to wait for the assistant to finish before posting")
    copy_ms: int = Field(default=2000, gt=0, description="how long a Copy button may take to fill the clipboard")
    ready_ms: int = Field(default=30000, gt=0, description="how long a page may take to show its composer")
    scroll_ms: int = Field(default=5000, gt=0, description="how long a virtualized history may take to load older turns")


class Profile(Strict):
    name: str = ""
    url: str
    chat_id_pattern: Regex = r"/chat/([^/?#]+)"
    composer: Composer
    send: Candidates
    messages: Messages
    streaming: list[Marker] = Field(default_factory=list)
    logged_out: list[Marker] = Field(default_factory=list)
    challenge: list[Marker] = Field(default_factory=list)
    error: list[Marker] = Field(default_factory=list, description="inside a message: the turn failed")
    timing: Timing = Timing()
    code_route: Literal["dom", "copy"] = "dom"

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
            ("messages.copy_button", m.copy_button, self.code_route == "copy"),
            ("messages.turn", m.turn, bool(m.turn)),
            ("messages.finished", m.finished, False),
            ("streaming", [x.selector for x in self.streaming], False),
            ("logged_out", [x.selector for x in self.logged_out], False),
            ("challenge", [x.selector for x in self.challenge], False),
            ("error", [x.selector for x in self.error], False),
        ]

    def chat_id(self, url: str) -> str:
        """The conversation id in a page URL, or ''."""
        found = re.search(self.chat_id_pattern, url)
        return found.group(1) if found else ""


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
