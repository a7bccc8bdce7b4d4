"""Posting: the whole text at once, confirmed as a new turn, never while the assistant writes."""

from __future__ import annotations

import pytest

from bridge.chat.errors import PageStalled
from bridge.chat.profile import Profile

pytestmark = pytest.mark.browser


def big_post(size: int) -> tuple[str, str]:
    """A post of about `size` bytes: prose (Russian included) around a fenced diff with tabs and trailing spaces."""
    lines: list[str] = []
    n = 0
    while sum(len(x) + 1 for x in lines) < size - 200:
        lines.append(f"+\tlet value_{n} = adjust_to_monday(day_{n});  ")
        lines.append(f" \t\t// Оптимизировать строку {n}\t")
        n += 1
    code = "\n".join(lines)
    return f"@agent code improvement file_id=51\nПатч ниже:\n\n```diff\n{code}\n```\n\nКонец.", code


def with_insert(profile: Profile, method: str) -> Profile:
    return profile.model_copy(update={"composer": profile.composer.model_copy(update={"insert": method})})


@pytest.mark.parametrize(
    ("composer", "insert"),
    [("contenteditable", "insert_text"), ("contenteditable", "paste"), ("textarea", "insert_text")],
)
def test_a_30kb_post_arrives_intact(mock, chat_id, open_driver, read_until, aio, mock_profile, composer, insert):
    text, code = big_post(30_000)
    assert len(text.encode()) > 30_000
    driver = open_driver(mock.chat_url(chat_id, composer=composer), profile=with_insert(mock_profile, insert))

    posted_id = aio.run(driver.post(text))

    stored = mock.messages(chat_id)[0]
    assert stored.id == posted_id
    assert stored.markdown == text
    mine = read_until(driver, 2)[0]
    assert mine.id == posted_id and mine.role == "developer"
    assert [b.text for b in mine.code_blocks] == [code]


def test_posts_wait_for_the_previous_answer_to_finish(mock, chat_id, open_driver, aio):
    driver = open_driver(mock.chat_url(chat_id))
    aio.run(driver.post("please send the slow patch"))
    second = aio.run(driver.post("@agent status"))

    turns = mock.messages(chat_id)
    assert [t.role for t in turns[:3]] == ["user", "assistant", "user"]
    assert turns[2].id == second
    assert turns[1].markdown.endswith("file_id=1`."), "the second post interrupted the first answer"


def test_no_post_while_the_assistant_is_stuck_writing(mock, chat_id, open_driver, aio, mock_profile):
    impatient = mock_profile.model_copy(update={"timing": mock_profile.timing.model_copy(update={"idle_ms": 1500})})
    driver = open_driver(mock.chat_url(chat_id), profile=impatient)
    mock.set_chat(chat_id, stall=True)
    aio.run(driver.post("first"))

    with pytest.raises(PageStalled):
        aio.run(driver.post("second"))
    assert [t.markdown for t in mock.messages(chat_id) if t.role == "user"] == ["first"]

    mock.set_chat(chat_id, stall=False)
    aio.run(driver.post("second"))
    assert [t.markdown for t in mock.messages(chat_id) if t.role == "user"] == ["first", "second"]
