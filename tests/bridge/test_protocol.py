"""The message protocol: commands found in chat text, what is refused and why, and the text back."""

from __future__ import annotations

import pytest

from bridge.models import ChatMessage, CodeBlock, Command
from bridge.protocol import help_text, parse, payload_of, sign
from bridge.protocol.parse import LOOKALIKE, MAX_COMMAND_LINES, MAX_ISSUES
from bridge.protocol.render import render
from bridge.protocol.verbs import VERBS, default_permissions

SEED = [
    "@agent code improvement #2025-07-12 file_id=51 [vibe: оптимизировать adjust_to_monday]",
    "@agent code improvement #2025-07-12 file_id=51 [<patch>]",
    "@agent code test #aggr_trades",
    "@agent commit [msg: Оптимизирована функция]",
]


def only(text: str | ChatMessage) -> Command:
    result = parse(text)
    assert not result.issues, result.issues
    assert len(result.commands) == 1, result.commands
    return result.commands[0]


def reasons(text: str) -> list[str]:
    return [issue.reason for issue in parse(text).issues]


# the seed's examples ---------------------------------------------------------------------
def test_seed_vibe() -> None:
    cmd = only(SEED[0])
    assert cmd.verb == "code improvement"
    assert cmd.words == ["code", "improvement"]
    assert cmd.meta == ["2025-07-12"]
    assert cmd.params == {"file_id": "51", "vibe": "оптимизировать adjust_to_monday"}
    assert cmd.data == "vibe: оптимизировать adjust_to_monday"
    assert cmd.line == SEED[0]
    assert cmd.code_blocks == []


def test_seed_patch_placeholder() -> None:
    cmd = only(SEED[1])
    assert (cmd.verb, cmd.meta, cmd.params, cmd.data) == ("code improvement", ["2025-07-12"], {"file_id": "51"}, "<patch>")


def test_seed_test_filter() -> None:
    cmd = only(SEED[2])
    assert (cmd.verb, cmd.meta, cmd.params, cmd.data) == ("code test", ["aggr_trades"], {}, None)


def test_seed_commit_message() -> None:
    cmd = only(SEED[3])
    assert (cmd.verb, cmd.params, cmd.data) == ("commit", {"msg": "Оптимизирована функция"}, "msg: Оптимизирована функция")


def test_seed_examples_inside_one_message_with_prose() -> None:
    text = "Разработчик пишет:\n\n" + "\n\nИ потом:\n".join(SEED) + "\n\nСпасибо!"
    result = parse(text)
    assert [c.verb for c in result.commands] == ["code improvement", "code improvement", "code test", "commit"]
    assert [c.index for c in result.commands] == [0, 1, 2, 3]
    assert [c.line for c in result.commands] == SEED
    assert result.commands[3].params["msg"] == "Оптимизирована функция"


# grammar ----------------------------------------------------------------------------------
def test_case_insensitive_prefix_and_verb_with_leading_whitespace() -> None:
    cmd = only("   @AGENT Check Compile")
    assert cmd.verb == "check compile"
    assert cmd.words == ["Check", "Compile"]


def test_meta_kinds_and_params() -> None:
    cmd = only("@agent code get #2025-07-12 #file_id=7")
    assert cmd.meta == ["2025-07-12"]
    assert cmd.params == {"file_id": "7"}
    cmd = only("@agent code files #2025-07-12 #*.rs glob=src/*")
    assert cmd.meta == ["2025-07-12", "*.rs"]
    assert cmd.params == {"glob": "src/*"}


def test_sandwich_takes_a_list_of_ids() -> None:
    assert only("@agent code sandwich file_id=1,2,3").params == {"file_id": "1,2,3"}
    assert reasons("@agent code sandwich file_id=1,x") == ["file_id must be numbers like 1,2,3, not '1,x'"]
    assert reasons("@agent code get file_id=1,2") == ["file_id must be a number, not '1,2'"]


def test_msg_and_vibe_items_in_data() -> None:
    cmd = only("@agent commit [msg: Fix the date\nrounding in adjust_to_monday]")
    assert cmd.params == {"msg": "Fix the date\nrounding in adjust_to_monday"}
    cmd = only("@agent code improvement file_id=3 [vibe: faster\nmsg: not a commit]")
    assert cmd.params == {"file_id": "3", "vibe": "faster", "msg": "not a commit"}


def test_several_commands_each_with_its_own_region() -> None:
    text = (
        "First the patch:\n"
        "@agent code improvement file_id=4\n"
        "```diff\n-old\n+new\n```\n"
        "then\n"
        "@agent code test #dates\n"
        "and finally\n"
        "@agent commit [msg: dates fixed]\n"
        "```text\nnot the commit's\n```\n"
    )
    improve, test, commit = parse(text).commands
    assert [b.text for b in improve.code_blocks] == ["-old\n+new"]
    assert test.code_blocks == [] and test.meta == ["dates"]
    assert commit.params == {"msg": "dates fixed"}
    assert [b.info for b in commit.code_blocks] == ["text"]


def test_data_with_rust_brackets_and_nested_brackets() -> None:
    assert only("@agent code improvement file_id=2 [let a = v[0] + w[i[1]];]").data == "let a = v[0] + w[i[1]];"
    assert only("@agent code improvement file_id=2 [[[x]]]").data == "[[x]]"


def test_multiline_data_runs_to_the_last_line_ending_bracket() -> None:
    text = (
        "@agent code improvement file_id=9 [\n"
        "fn first(v: &[u8]) -> u8 {\n"
        "    v[0]\n"
        "}\n"
        "]\n"
        "prose after it"
    )
    assert only(text).data == "fn first(v: &[u8]) -> u8 {\n    v[0]\n}"


def test_unbalanced_brackets_inside_fenced_data_do_not_end_it() -> None:
    text = "@agent code improvement file_id=1 [\n```rust\nlet a = v[0;\nlet b = ]];\n```\n]"
    cmd = only(text)
    assert cmd.data == "```rust\nlet a = v[0;\nlet b = ]];\n```"
    assert cmd.code_blocks == [CodeBlock(text="let a = v[0;\nlet b = ]];", info="rust")]


def test_single_line_data_is_not_extended_by_later_prose_brackets() -> None:
    text = "@agent code improvement file_id=3 [vibe: make it faster]\n```diff\n-a v[0]\n+b\n```\nSee the notes [1]"
    cmd = only(text)
    assert cmd.data == "vibe: make it faster"
    assert cmd.params["vibe"] == "make it faster"
    assert [b.text for b in cmd.code_blocks] == ["-a v[0]\n+b"]


def test_fenced_data_keeps_exact_whitespace() -> None:
    code = "fn main() {\n\tlet x = 1;   \n\n\n    println!(\"{x}\");\t\n}"
    for fence in ("```", "~~~", "`````"):
        cmd = only(f"@agent code improvement file_id=1\n{fence}rust src/main.rs\n{code}\n{fence}\n")
        assert cmd.code_blocks == [CodeBlock(text=code, info="rust src/main.rs")]


def test_fence_inside_a_list_item_is_dedented_like_commonmark() -> None:
    cmd = only("@agent code improvement file_id=1\n1. the patch:\n   ```diff\n   -a\n   +b\n   ```")
    assert cmd.code_blocks == [CodeBlock(text="-a\n+b", info="diff")]


def test_fence_opened_on_a_list_marker_line() -> None:
    cmd = only("@agent code improvement file_id=1\n- ```diff\n  -a\n  +b\n  ```\n- done")
    assert cmd.code_blocks == [CodeBlock(text="-a\n+b", info="diff")]


def test_a_backtick_in_the_info_string_means_no_fence() -> None:
    assert [c.verb for c in parse("```not`a fence\n@agent undo").commands] == ["undo"]
    assert parse("~~~info`is fine\n@agent undo").commands == []


def test_crlf_text() -> None:
    cmd = only("@agent commit [msg: windows]\r\n")
    assert cmd.params == {"msg": "windows"} and cmd.line == "@agent commit [msg: windows]"


# exact code from the DOM ---------------------------------------------------------------------
def test_exact_code_blocks_replace_the_fence_text_in_order() -> None:
    text = "```\nintro\n```\n@agent code improvement file_id=5\n```diff\n- a\n+ b\n```\n"
    exact = [CodeBlock(text="intro"), CodeBlock(text="-\ta\n+\tb  \n", info="diff")]
    result = parse(ChatMessage(id="m1", role="assistant", text=text, code_blocks=exact))
    assert result.warnings == []
    assert result.commands[0].code_blocks == [exact[1]]


def test_exact_code_count_mismatch_falls_back_and_says_so() -> None:
    text = "@agent code improvement file_id=5\n```diff\n- a\n+ b\n```\n"
    result = parse(ChatMessage(id="m1", role="assistant", text=text, code_blocks=[CodeBlock(text="x"), CodeBlock(text="y")]))
    assert result.commands[0].code_blocks == [CodeBlock(text="- a\n+ b", info="diff")]
    assert result.warnings and "2 exact code block(s)" in result.warnings[0]


def test_quoted_fences_count_when_matching_exact_code() -> None:
    text = "> ```\n> quoted code\n> ```\n@agent code improvement file_id=1\n```diff\n- a\n+ b\n```"
    exact = [CodeBlock(text="quoted code"), CodeBlock(text="-\ta\n+\tb", info="diff")]
    result = parse(ChatMessage(id="m", role="developer", text=text, code_blocks=exact))
    assert result.warnings == [] and result.commands[0].code_blocks == [exact[1]]


def test_payload_carries_exact_code_with_its_info() -> None:
    exact = CodeBlock(text="--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n-\told \n+\tnew", info="diff")
    text = "@agent code improvement file_id=5\n```diff\n--- a/src/lib.rs\n(lossy)\n```"
    cmd = parse(ChatMessage(id="m", role="developer", text=text, code_blocks=[exact])).commands[0]
    assert payload_of(cmd) == f"```diff\n{exact.text}\n```"
    xml = '@agent code improvement [<code_file name="src/x.rs">\n```rust\nlossy\n```\n</code_file>]'
    exact_rust = [CodeBlock(text="fn x() {}\n", info="rust")]
    bracketed = parse(ChatMessage(id="m", role="developer", text=xml, code_blocks=exact_rust)).commands[0]
    assert payload_of(bracketed) == '<code_file name="src/x.rs">\n```rust\nfn x() {}\n\n```\n</code_file>'


# not commands -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "```\n@agent code test\n```",
        "~~~diff\n+@agent commit [msg: x]\n@agent commit [msg: x]\n~~~",
        "- item\n  ```\n  @agent undo\n  ```",
        "> @agent undo",
        ">> @agent undo",
        "> ```\n> @agent undo\n> ```",
        "Use `@agent undo` to drop a patch.",
        "Type this: `code here\n@agent undo` and see.",
        "@agents undo",
        "write to email@agent.com",
        "@agent.com undo",
        "unclosed fence swallows the rest\n```\n@agent undo",
        "> ```\n> quoted\n```\n@agent undo",
    ],
)
def test_no_command_in_code_quotes_or_lookalike_words(text: str) -> None:
    result = parse(text)
    assert result.commands == [] and result.issues == []


def test_a_quote_ends_its_quoted_fence() -> None:
    assert [c.verb for c in parse("> ```\n> code\n@agent undo").commands] == ["undo"]
    assert [c.verb for c in parse("> ```\n> code\n@agent undo\n> ```").commands] == ["undo"]


def test_unclosed_inline_backtick_does_not_hide_later_commands() -> None:
    assert [c.verb for c in parse("it's a ` tick\n@agent undo").commands] == ["undo"]


def test_mcp_posts_are_never_commands() -> None:
    post = sign("Please reply with a patch:\n@agent code improvement file_id=3\n```diff\n-a\n+b\n```")
    assert parse(post).commands == [] and parse(post).issues == []
    rendered_inner_text = post.replace("\n\n— MCP", "\n— MCP") + "\n"
    assert parse(rendered_inner_text).commands == []
    assert parse(ChatMessage(id="x", role="mcp", text="@agent undo")).commands == []


@pytest.mark.parametrize(
    "text",
    [
        "@\u0430gent code test",  # Cyrillic а
        "\uff20agent code test",  # fullwidth @
        "＠ａｇｅｎｔ status",  # fullwidth everything
        "@ag\u200bent code test",  # zero-width space inside
        "\u200b@agent code test",  # zero-width space before
        "@\u0430\u0261\u0435\u0578\u0442 status",  # several scripts
    ],
)
def test_lookalike_agent_is_reported_not_run(text: str) -> None:
    result = parse(text)
    assert result.commands == []
    assert [(i.line, i.reason) for i in result.issues] == [(1, LOOKALIKE)]


def test_lookalike_verb_is_reported_with_the_verb_it_mimics() -> None:
    (issue,) = parse("@agent \u0441ode test").issues  # Cyrillic с
    assert issue.reason == "'\u0441ode test' looks like 'code test' but contains look-alike characters; not executed"
    assert issue.suggestions == ["code test"]


# refusals with help -------------------------------------------------------------------------
def test_unknown_verb_suggests_the_closest() -> None:
    (issue,) = parse("hello\n@agent code tset").issues
    assert issue.line == 2
    assert issue.reason == "unknown command 'code tset'; did you mean: code test?"
    assert issue.suggestions == ["code test"]
    assert parse("@agent comit [msg: x]").issues[0].suggestions == ["commit"]
    assert parse("@agent staus").issues[0].suggestions == ["status"]


def test_verb_group_lists_its_verbs() -> None:
    (issue,) = parse("@agent check").issues
    assert issue.suggestions == ["check compile", "check test", "check degradation", "check environment"]


def test_unknown_without_any_close_verb_points_to_help() -> None:
    (issue,) = parse("@agent frobnicate").issues
    assert issue.suggestions == [] and "`@agent help`" in issue.reason


def test_bare_agent_points_to_help() -> None:
    for text in ("@agent", "@agent   ", "@agent [data]", "@agent #topic"):
        (issue,) = parse(text).issues
        assert issue.suggestions == ["help"] and "`@agent help`" in issue.reason


def test_stray_words_missing_brackets_and_bad_params_are_refused() -> None:
    assert reasons("@agent code test aggr_trades") == [
        "unexpected 'aggr_trades' after 'code test': use #meta, key=value or [data]; write `@agent help` for the list"
    ]
    assert reasons("@agent commit msg: fix it")[0].startswith("unexpected 'msg: fix it' after 'commit'")
    assert reasons("@agent code test fiter=dates") == ["`code test` has no parameter 'fiter'; it takes: filter"]
    assert reasons("@agent code get") == ["`code get` needs exactly one of file_id and path; usage: code get file_id=N | path=P"]
    assert reasons("@agent code get file_id=3 path=src/lib.rs") == reasons("@agent code get")
    assert reasons("@agent code sandwich") == ["`code sandwich` needs file_id; usage: code sandwich file_id=1,2,…"]
    assert reasons("@agent code get file_id=0") == ["file_id should be greater than or equal to 1, not '0'"]
    assert reasons("@agent code test #-x") == ["filter must be a test name, with no leading '-' and no control characters, not '-x'"]
    assert reasons("@agent code improvement file_id=3") == [
        "`code improvement` needs data: [vibe: …], [patch] or a fenced patch block after the line"
    ]
    assert reasons("@agent commit [msg: never closed") == ["unclosed '[': the data has no closing ']'; not executed"]


def test_a_refused_line_does_not_stop_the_others() -> None:
    result = parse("@agent code tset\n@agent status\n@agent undo please")
    assert [c.verb for c in result.commands] == ["status"]
    assert result.commands[0].index == 0
    assert [i.line for i in result.issues] == [1, 3]


def test_issue_and_command_counts_are_bounded() -> None:
    many_bad = "\n".join(f"@agent nope{i}" for i in range(50))
    issues = parse(many_bad).issues
    assert len(issues) == MAX_ISSUES and issues[-1].reason == f"{50 - MAX_ISSUES + 1} more lines addressed to @agent were not executed"
    many_good = "\n".join("@agent status" for _ in range(MAX_COMMAND_LINES + 5))
    result = parse(many_good)
    assert len(result.commands) == MAX_COMMAND_LINES
    assert result.issues[0].reason.startswith("5 more @agent lines were not read")


# never raises, stays fast ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n" * 3,
        "@agent [",
        "@agent ]]]][[[[",
        "```",
        "> ```",
        "@agent code improvement [\n```\n]",
        "\x00@agent\x00",
        "@agent \ud800 status",
        "@agent " + "x" * 10_000,
    ],
)
def test_never_raises_on_odd_input(text: str) -> None:
    result = parse(text)
    assert all(issue.reason for issue in result.issues)


def test_large_messages() -> None:
    """5 MB of patch and 10,000 lines of mixed chat (the benchmark shows the cost grows linearly)."""
    patch = "@agent code improvement file_id=1\n```diff\n" + "+    let a = v[0]; // [x]\n" * 200_000 + "```\n"
    chat = "\n".join(("@agent code test #t" if i % 100 == 0 else f"line {i} with `code` and [a](b)") for i in range(10_000))
    (cmd,) = parse(patch).commands
    assert cmd.code_blocks[0].text == ("+    let a = v[0]; // [x]\n" * 200_000)[:-1]
    mixed = parse(chat)
    assert len(mixed.commands) == 100 and mixed.issues == []
    assert [c.index for c in mixed.commands] == list(range(100))


# render, payload, verb table -------------------------------------------------------------
def test_render_is_canonical_and_parses_back() -> None:
    for text in SEED:
        cmd = only(text)
        assert render(cmd) == text
        assert parse(render(cmd)).commands == [cmd]
    odd = only("  @Agent   Code  Test   #aggr_trades   filter=x  ")
    assert render(odd) == "@agent Code Test #aggr_trades filter=x"


def test_render_of_a_built_command() -> None:
    cmd = Command(verb="commit", params={"msg": "Оптимизирована функция (chat 1)"})
    assert render(cmd) == "@agent commit [msg: Оптимизирована функция (chat 1)]"
    fenced = Command(verb="code improvement", params={"file_id": "3"}, code_blocks=[CodeBlock(text="has ``` inside\n", info="diff")])
    text = render(fenced)
    assert text == "@agent code improvement file_id=3\n````diff\nhas ``` inside\n\n````"
    assert parse(text).commands[0].code_blocks == fenced.code_blocks


def test_permissions_and_help_come_from_the_table() -> None:
    perms = default_permissions()
    assert list(perms) == [v.name for v in VERBS]
    assert perms["commit"] == ["developer"] and perms["undo"] == ["developer"]
    assert perms["code improvement"] == ["developer", "assistant"]
    assert perms["status"] == ["developer", "assistant", "mcp"]
    text = help_text()
    for verb in VERBS:
        assert f"`@agent {verb.usage}` — {verb.summary} ({verb.access})" in text
    assert parse(text).commands == [], "the help text quotes commands; echoing it must not run them"

