"""MCP's posts: addressed, signed, split on line boundaries with balanced fences, each within the limit."""

from __future__ import annotations

import pytest
from markdown_it import MarkdownIt

from bridge.models import Reply
from bridge.protocol import SIGNATURE, format_post, is_bot_post, parse, sign
from bridge.protocol.posts import MIN_LIMIT

MD = MarkdownIt("commonmark")


def last_block_is_signature(post: str) -> bool:
    """Rendered as CommonMark, the post ends with a paragraph holding the signature (no fence swallowed it)."""
    tokens = MD.parse(post)
    inline = [t for t in tokens if t.type == "inline"]
    return bool(inline) and tokens[-1].type == "paragraph_close" and inline[-1].content.endswith(SIGNATURE)


def fence_count(post: str) -> int:
    return sum(1 for t in MD.parse(post) if t.type == "fence")


def rust_module(lines: int) -> str:
    return "\n".join(f"    let x{i} = v[{i}]; \t// keep" for i in range(lines))


def test_short_replies_are_addressed_by_kind_and_signed() -> None:
    assert format_post(Reply(text="Updated src/lib.rs", kind="broadcast")) == [f"@all Updated src/lib.rs\n\n{SIGNATURE}"]
    assert format_post(Reply(text="tests fail", kind="escalation")) == [f"@dev escalate: tests fail\n\n{SIGNATURE}"]
    assert format_post(Reply(text="fix this", kind="request")) == [f"@assistant fix this\n\n{SIGNATURE}"]
    assert format_post(Reply(text="ok", kind="result")) == [f"ok\n\n{SIGNATURE}"]
    assert format_post(Reply(text="bad", kind="error")) == [f"bad\n\n{SIGNATURE}"]


def test_address_goes_on_its_own_line_before_a_leading_fence() -> None:
    (post,) = format_post(Reply(text="```rust\nfn a() {}\n```", kind="broadcast"))
    assert post.startswith("@all\n```rust\n") and fence_count(post) == 1


def test_signature_is_recognised_in_markdown_and_in_rendered_text() -> None:
    post = sign("done")
    assert is_bot_post(post)
    assert is_bot_post(post.replace("\n\n", "\n") + "\n  ")
    assert is_bot_post("done\n(part 2/3)\u00a0— MCP ·  Colloqium DevSpace")
    assert not is_bot_post("done")
    assert not is_bot_post(f"{SIGNATURE}\n@agent undo")


def test_sign_closes_an_open_fence_so_the_signature_stays_outside_code() -> None:
    post = sign("```rust\nfn a() {}")
    assert post == f"```rust\nfn a() {{}}\n```\n\n{SIGNATURE}"
    assert last_block_is_signature(post)


def test_long_reply_is_split_into_labelled_balanced_parts() -> None:
    text = "Updated src/lib.rs:\n```rust\n" + rust_module(300) + "\n```\nChecks: build ok, 12 tests passed."
    parts = format_post(Reply(text=text, kind="broadcast"), limit=2000)
    assert len(parts) > 3
    for i, part in enumerate(parts, 1):
        assert len(part) <= 2000
        assert part.endswith(f"(part {i}/{len(parts)}) {SIGNATURE}")
        assert last_block_is_signature(part), part[-200:]
        assert fence_count(part) == 1
        assert is_bot_post(part)
        assert parse(part).commands == []
    assert parts[0].startswith("@all Updated src/lib.rs:\n```rust\n")
    assert all(p.startswith("```rust\n") for p in parts[1:])
    assert parts[-1].count("Checks: build ok") == 1


def test_parts_rejoin_to_the_content() -> None:
    text = "intro line\n~~~~text\n" + rust_module(120) + "\n~~~~\nmiddle\n```\n" + rust_module(120) + "\n```\nend"
    parts = format_post(Reply(text=text), limit=1500)
    bodies = [p.removesuffix(f"\n\n(part {i}/{len(parts)}) {SIGNATURE}") for i, p in enumerate(parts, 1)]
    rebuilt: list[str] = []
    for i, body in enumerate(bodies):
        lines = body.split("\n")
        if i and lines[0] in ("~~~~text", "```") and rebuilt and rebuilt[-1] not in ("~~~~", "```"):
            lines = lines[1:]
        if i + 1 < len(bodies) and lines[-1] in ("~~~~", "```") and bodies[i + 1].split("\n")[0] in ("~~~~text", "```"):
            lines = lines[:-1]
        rebuilt += lines
    assert "\n".join(rebuilt) == text


def test_too_many_parts_end_with_a_trim_note_inside_the_limit() -> None:
    text = "```\n" + rust_module(2000) + "\n```"
    parts = format_post(Reply(text=text), limit=1000, max_parts=3)
    assert len(parts) == 3
    assert all(len(p) <= 1000 and last_block_is_signature(p) for p in parts)
    assert "more lines trimmed; full text in the log]" in parts[-1]
    assert "trimmed" not in parts[0] + parts[1]


def test_overlong_line_is_clipped_with_a_note() -> None:
    parts = format_post(Reply(text="short\n" + "x" * 50_000 + "\nafter"), limit=1000)
    assert all(len(p) <= 1000 for p in parts)
    joined = "".join(parts)
    assert "more characters trimmed]" in joined and "after" in joined and "short" in joined


def one_post(text: str, limit: int) -> str:
    """The one post a reply may take, without its signature."""
    (post,) = format_post(Reply(text=text), limit=limit, max_parts=1)
    return post.removesuffix(f"\n\n{SIGNATURE}")


def test_one_post_cuts_on_a_line_boundary_and_closes_the_fence() -> None:
    text = "Summary\n```text\n" + "\n".join(f"error line {i}" for i in range(500)) + "\n```"
    out = one_post(text, 600)
    assert len(out) <= 600
    lines = out.split("\n")
    assert lines[-2] == "```" and lines[-1].startswith("[… ") and lines[-1].endswith(" more lines trimmed; full text in the log]")
    kept = sum(1 for line in lines if line.startswith("error line"))
    assert lines[-1] == f"[… {500 - kept + 1} more lines trimmed; full text in the log]"
    assert fence_count(out) == 1
    assert one_post("fits", 600) == "fits"


def test_limits_too_small_to_hold_a_part_are_rejected() -> None:
    with pytest.raises(ValueError):
        format_post(Reply(text="x"), limit=MIN_LIMIT - 1)
    with pytest.raises(ValueError):
        format_post(Reply(text="x"), limit=10, max_parts=1)


@pytest.mark.browser
def test_signature_survives_rendering_in_chromium() -> None:
    """A post rendered as a chat UI would (markdown to HTML) reads back through innerText as MCP's and runs nothing."""
    from playwright.sync_api import sync_playwright

    from bridge.chat.launch import launch_options

    text = (
        "Please reply with a corrected patch:\n@agent code improvement file_id=3\n\n"
        "```diff\n" + "\n".join(f"-old {i}\n+new {i}" for i in range(80)) + "\n```\n"
        "Then `@agent code test`."
    )
    posts = format_post(Reply(text=text, kind="request"), limit=1200)
    assert len(posts) > 1
    with sync_playwright() as pw:
        browser = pw.chromium.launch(**launch_options())
        try:
            page = browser.new_page()
            for post in posts:
                page.set_content(f"<html><body><div id='m'>{MD.render(post)}</div></body></html>")
                shown = page.inner_text("#m")
                assert is_bot_post(shown), shown[-200:]
                assert parse(shown).commands == [] and parse(shown).issues == []
        finally:
            browser.close()
