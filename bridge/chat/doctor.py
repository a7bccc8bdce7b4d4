"""`devspace doctor`: every part of a profile checked on the live page, as a report to paste into an issue.

For each part: the candidates, how many elements each matches (and how many are visible), which one
is used, and the route the part serves (post, read, completion, state). For the read route: whether
the history API answers (and holds the turns the page mounts) or the DOM is read; for completion:
whether the page's reply stream was seen. An empty new chat has no turns to check the message parts
on: they are reported as such, not as broken.
"""

from __future__ import annotations

import contextlib
from importlib.metadata import PackageNotFoundError, version
from typing import Literal
from urllib.parse import quote

from pydantic import BaseModel, Field

from bridge.chat.assemble import ApiResult
from bridge.chat.errors import ChatError, UIDrift
from bridge.chat.history import active_branch
from bridge.chat.page import DriverOptions
from bridge.chat.playwright_driver import PlaywrightDriver
from bridge.chat.profile import Profile
from sandbox.redact import redact

Status = Literal["used", "ok", "unused", "shown", "none shown", "BROKEN", "invalid CSS", "no turns yet", "not shown"]
LEGEND = (
    "status: used = the candidate in use; ok = valid and matching (a state: valid, not on screen now); "
    "unused = matches nothing; shown = the state is on screen now; none shown = no turn of that kind to check; "
    "no turns yet = an empty chat; not shown = appears only with text (not typed into your own tab); "
    "BROKEN = nothing matches a part the bridge needs"
)
PROBE_TEXT = "devspace doctor: checking the send button (not sent)"
MESSAGE_PARTS = ("messages.container", "messages.markdown", "messages.scroller")
STATES = ("streaming", "logged_out", "challenge", "rate_limited", "error")


class DoctorRow(BaseModel):
    """One candidate selector: how many elements it matches (-1: invalid CSS), how many of them are visible."""

    part: str
    route: str
    selector: str
    matches: int
    visible: int = 0
    required: bool
    status: Status

    @property
    def ok(self) -> bool:
        return self.status not in ("BROKEN", "invalid CSS")


class RouteCheck(BaseModel):
    """Which way a job is done on this page, and what was seen of it."""

    job: str
    route: str
    detail: str
    ok: bool = True


class DoctorReport(BaseModel):
    profile: str
    opened: str
    page_url: str = ""
    chat_id: str = ""
    state: list[str] = Field(default_factory=list, description="logged out, challenge, rate limit, streaming: what the page shows")
    session: str | None = Field(default=None, description="the profile's session check and its answer")
    turns: int = Field(default=0, description="turns mounted in the page")
    routes: list[RouteCheck] = Field(default_factory=list)
    rows: list[DoctorRow] = Field(default_factory=list)
    versions: str = ""
    failure: str | None = Field(default=None, description="the page could not be checked: why")

    def broken(self) -> list[str]:
        parts = {row.part for row in self.rows if not row.ok}
        return sorted(parts | {f"route: {r.job}" for r in self.routes if not r.ok} | ({"page"} if self.failure else set()))

    def healthy(self) -> bool:
        return not self.broken()

    def markdown(self) -> str:
        """The report as GitHub markdown; addresses pass through the secret filter."""
        lines = [f"### devspace doctor: profile `{self.profile}`", ""]
        lines.append(f"- opened: {redact(self.opened)}" + (f" (now {redact(self.page_url)})" if self.page_url and self.page_url != self.opened else ""))
        chat = f"`{self.chat_id}`" if self.chat_id else "none yet (a new chat gets its id on the first send)"
        lines.append(f"- conversation: {chat}; {self.turns} turn(s) mounted")
        lines.append(f"- page state: {', '.join(self.state) or 'logged in, idle'}")
        if self.session:
            lines.append(f"- {self.session}")
        if self.versions:
            lines.append(f"- versions: {self.versions}")
        for route in self.routes:
            mark = "" if route.ok else " **BROKEN**"
            lines.append(f"- {route.job}: **{route.route}**{mark} — {route.detail}")
        if self.failure:
            lines.append(f"- **could not check the page**: {self.failure}")
        verdict = "healthy" if self.healthy() else f"BROKEN: {', '.join(self.broken())}"
        lines += [f"- result: **{verdict}**", ""]
        if self.rows:
            lines += ["| part | route | selector | matches (visible) | status |", "|---|---|---|---|---|"]
            for row in self.rows:
                count = "invalid" if row.matches < 0 else f"{row.matches} ({row.visible})"
                selector = row.selector.replace("|", "\\|")
                lines.append(f"| {row.part} | {row.route} | `{selector}` | {count} | {row.status} |")
            lines += ["", LEGEND]
        return "\n".join(lines) + "\n"


def _routes_of_parts(profile: Profile, reads_api: bool, streams: bool) -> dict[str, str]:
    read = "read fallback" if reads_api else "read"
    return {
        "composer": "post",
        "send": "post",
        "messages.container": "branch hint" if reads_api else "read",
        "messages.user": read,
        "messages.assistant": read,
        "messages.markdown": read,
        "messages.code_block": read,
        "messages.code_text": read,
        "messages.code_language": read,
        "messages.exclude": read,
        "messages.copy_button": "code" if profile.code_route == "copy" else "unused",
        "messages.turn": read,
        "messages.finished": "completion",
        "messages.scroller": read,
        "streaming": "completion fallback" if streams else "completion",
        "logged_out": "state",
        "challenge": "state",
        "rate_limited": "state",
        "error": "read",
    }


async def check_page(driver: PlaywrightDriver, *, type_probe: bool = True) -> list[DoctorRow]:
    """Count every candidate of every part on the driver's page, and the turns the reader would identify.

    The send button of some UIs shows only once the composer holds text: with `type_probe`, a probe
    text is typed (never sent) to check it, then removed.
    """
    profile = driver.profile
    parts = profile.selector_parts()
    selectors = [s for _, cands, _ in parts for s in cands]
    report = await driver.inspect("count", selectors=selectors)
    send_shown = report
    if type_probe and not any(report["shown"][i] for i, s in enumerate(selectors) if s in profile.send):
        with contextlib.suppress(ChatError):
            await driver.insert(PROBE_TEXT)
            await driver.page.wait_for_timeout(300)  # the button follows the text a moment later
            send_shown = await driver.inspect("count", selectors=selectors)
            await driver.insert("")
    empty = report["turns"] == 0
    streams = profile.api is not None and profile.api.stream is not None
    routes = _routes_of_parts(profile, driver.read_route == "api", streams)
    rows: list[DoctorRow] = []
    position = 0
    for part, cands, required in parts:
        source = send_shown if part == "send" else report
        counts = source["counts"][position : position + len(cands)]
        shown = source["shown"][position : position + len(cands)]
        position += len(cands)
        used = next((i for i, n in enumerate(shown) if n > 0), None) if required else None
        for i, (selector, n, v) in enumerate(zip(cands, counts, shown, strict=True)):
            status: Status
            if n < 0:
                status = "invalid CSS"
            elif i == used:
                status = "used"
            elif not required:
                status = "shown" if v > 0 and part in STATES else "ok" if n > 0 or part in STATES else "unused"
            elif used is not None:
                status = "ok" if n > 0 else "unused"
            elif empty and part in MESSAGE_PARTS:
                status = "no turns yet"
            elif part == "send" and not type_probe:
                status = "not shown"
            else:
                status = "BROKEN"
            rows.append(DoctorRow(part=part, route=routes.get(part, "read"), selector=selector, matches=n, visible=v, required=required, status=status))
    m = profile.messages
    turns = report["turns"]
    streaming = any(row.part == "streaming" and row.visible > 0 for row in rows)  # a reply being written may lack its markdown yet
    roles = report["user"] + report["assistant"]
    turn_checks = [
        ("turns with an id", f"[{m.id.attribute}] ~ /{m.id.pattern}/", report["ids"], report["ids"] < turns),
        ("turns told as user", " | ".join(m.user), report["user"], roles < turns),
        ("turns told as assistant", " | ".join(m.assistant), report["assistant"], roles < turns),
        ("turns with markdown", " | ".join(m.markdown), report["markdown"], report["markdown"] < turns and not streaming),
    ]
    for part, rule, n, short in turn_checks:
        status = "no turns yet" if empty else "BROKEN" if short else "ok" if n > 0 else "none shown"
        rows.append(DoctorRow(part=part, route=routes["messages.markdown"], selector=rule, matches=n, visible=n, required=True, status=status))
    return rows


async def _read_route(driver: PlaywrightDriver) -> RouteCheck:
    api = driver.profile.api
    if api is None:
        scan = " (a virtualized transcript is scrolled to the last seen turn)" if driver.profile.messages.virtualized else ""
        return RouteCheck(job="read", route="dom", detail=f"the profile declares no history API; turns are read from the page{scan}")
    if not driver.chat_id:
        return RouteCheck(job="read", route="dom", detail="a new chat: the history API is used once the chat has an id")
    url = api.history.format(chat_id=quote(driver.chat_id, safe=""))
    result = ApiResult.model_validate(await driver.inspect("api", url=url, signature=None))
    if result.items is None:
        why = result.error or f"HTTP {result.status}"
        return RouteCheck(job="read", route="dom", detail=f"`GET {url}` failed ({why}): turns are read from the page", ok=False)
    branch = active_branch(result.items, result.mounted)
    on_branch = {item.id for item in branch}
    found = sum(1 for i in result.mounted if i in on_branch)
    ok = found == len(result.mounted)
    detail = f"`GET {url}` → {result.status}, {len(result.items)} turn(s), {len(branch)} on the shown branch; {found} of the {len(result.mounted)} mounted turn(s) found there"
    if not ok:
        detail += " (the page shows turns the API does not list)"
    if api.load and len(result.mounted) > 1:
        load = api.load.format(chat_id=quote(driver.chat_id, safe=""))
        some = ApiResult.model_validate(await driver.inspect("api", url=url, loadUrl=load, lastSeenId=result.mounted[0], signature=None))
        asked = some.incremental or []
        got = len(some.items or []) if some.incremental is not None else 0
        ok = ok and got == len(asked)
        detail += f"; new turns by id: `POST {load}` → {some.status or some.error}, {got} of {len(asked)}"
    return RouteCheck(job="read", route="api", detail=detail, ok=ok)


async def _session(driver: PlaywrightDriver) -> str | None:
    status = await driver.session_status()
    return None if status is None else f"session check `GET {driver.profile.session}` → {status}"


def _versions(driver: PlaywrightDriver) -> str:
    try:
        ours = version("colloqium-devspace")
    except PackageNotFoundError:
        ours = "source"
    browser = driver.page.context.browser
    return f"devspace {ours}, {'Chromium ' + browser.version if browser else 'browser unknown'}"


async def run_doctor(profile: Profile, options: DriverOptions) -> DoctorReport:
    """Open the conversation (even when the page looks broken) and check every part and route."""
    driver = PlaywrightDriver(profile, options)
    report = DoctorReport(profile=profile.name, opened=options.url)
    try:
        try:
            await driver.start()
        except UIDrift:
            pass  # the checks below say which part
        except ChatError as exc:
            report.failure = f"{type(exc).__name__}: {exc}"
            with contextlib.suppress(Exception):
                report.page_url = driver.page.url
            return report
        report.page_url = driver.page.url
        report.chat_id = driver.chat_id
        report.versions = _versions(driver)
        state = await driver.inspect("state")
        report.state = [f"{name.replace('_', ' ')} ({state[name]})" for name in ("logged_out", "challenge", "rate_limited", "streaming") if state.get(name)]
        report.rows = await check_page(driver, type_probe=options.cdp_url is None)
        report.turns = next((r.matches for r in report.rows if r.part == "turns with an id"), 0)
        report.routes.append(await _read_route(driver))
        report.routes.append(_completion(driver))
        report.routes.append(RouteCheck(job="post", route="dom", detail="the text is inserted into the composer at once, sent, and confirmed as a new turn"))
        code = "api (raw markdown)" if driver.read_route == "api" else profile.code_route
        report.routes.append(RouteCheck(job="code", route=code, detail="code blocks exactly as written" if code != "dom" else "code blocks from the page's code elements"))
        report.session = await _session(driver)
        return report
    finally:
        await driver.close()


def _completion(driver: PlaywrightDriver) -> RouteCheck:
    stream = driver.profile.api.stream if driver.profile.api else None
    window = f"no streaming marker and the text unchanged for {driver.profile.timing.stability_ms} ms"
    if stream is None:
        return RouteCheck(job="completion", route="dom", detail=window)
    if driver.stream_seen:
        return RouteCheck(job="completion", route="websocket", detail=f"a socket matching `{stream.url}` is open: a reply ends at its `{'/'.join(stream.done)}` event; else {window}")
    return RouteCheck(job="completion", route="dom", detail=f"no socket matching `{stream.url}` seen (a tab attached over CDP opened it earlier): {window}")
