"""Code as CommonMark reads it in commands, and which improvements carry an edit (the applier decides)."""

from __future__ import annotations

import pytest

from bridge.models import Command
from bridge.policy import carries_patch
from bridge.protocol import parse, payload_of


@pytest.mark.parametrize(
    "text",
    [
        "Nothing to run yet:\n\n    @agent code test #aggr_trades\n    @agent status\n\nLater.",
        "\t@agent undo",
        "# Examples\n\n    @agent commit [msg: x]",
        "```\nshown\n```\n\n    @agent undo",
    ],
)
def test_commands_in_an_indented_code_block_are_code(text: str) -> None:
    result = parse(text)
    assert result.commands == [] and result.issues == []


def test_an_indented_line_that_continues_a_paragraph_is_a_command_line() -> None:
    assert [c.verb for c in parse("Please run:\n    @agent status").commands] == ["status"]


def test_commands_inside_a_nested_fence_that_was_not_lengthened_are_code() -> None:
    """CommonMark ends the outer block at the inner block's closer; the nested reading keeps going. Either makes code."""
    text = "README.md\n```markdown\n# T\n\n```sh\ncargo test\n```\n\n@agent commit [msg: from the readme]\n```\n"
    assert parse(text).commands == []


def test_a_tag_on_the_command_line_is_an_edit_command() -> None:
    text = '@agent <code_file name="src/x.rs">\nfn x() {}\n</code_file>\nthanks'
    cmd = parse(text).commands[0]
    assert cmd.verb == "code improvement"
    assert payload_of(cmd) == '<code_file name="src/x.rs">\nfn x() {}\n</code_file>\nthanks'
    one_line = parse('@agent <code_patch file_id="4">@@\n-a\n+b\n</code_patch>').commands[0]
    assert one_line.verb == "code improvement" and payload_of(one_line).startswith('<code_patch file_id="4">@@')


@pytest.mark.parametrize(
    "body",
    [
        "--- a/src/x.rs\n+++ b/src/x.rs\n@@ -1 +1 @@\n-a\n+b",
        "src/x.rs\n<<<<<<< SEARCH\na\n=======\nb\n>>>>>>> REPLACE",
        '<code_file name="src/x.rs">fn x() {}</code_file>',
        '<CODE_PATCH file_id="3">@@\n-a\n+b\n</CODE_PATCH>',
        "Updated `src/x.rs`:\n```rust\nfn x() {}\n```",
        "diff --git a/src/x.rs b/src/x.rs\ndeleted file mode 100644",
    ],
)
def test_every_format_the_applier_reads_carries_a_patch(body: str) -> None:
    assert carries_patch(Command(verb="code improvement", body=body))
    assert carries_patch(Command(verb="code improvement", data=body))


@pytest.mark.parametrize(
    "cmd",
    [
        Command(verb="code improvement", data="vibe: make adjust_to_monday faster", params={"vibe": "make adjust_to_monday faster"}),
        Command(verb="code improvement", data="- use a table\n- drop the loop"),
        Command(verb="code improvement", body="Could you make it faster? Ideas:\n- a table\n+ fewer allocations"),
    ],
)
def test_a_request_without_an_edit_is_a_vibe(cmd: Command) -> None:
    assert not carries_patch(cmd)
