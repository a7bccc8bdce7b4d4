"""Commits with attribution (GitPython, through safegit): the actor is the author, MCP the committer."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import git

from sandbox.errors import NothingToCommit, WorkspaceError
from sandbox.models import ChatLink, CommitResult, Identity
from sandbox.safegit import SafeRepo

MAX_SUBJECT = 200


def commit_message(message: str, author: Identity, chat: ChatLink | None) -> str:
    """`From Grok: <msg> (chat_id=<id>)` plus trailers naming the chat and message."""
    subject = " ".join(message.split())[:MAX_SUBJECT] or "update"
    head = f"From {author.name}: {subject}"
    if chat is None:
        return head + "\n"
    trailers = [f"Chat-Id: {chat.chat_id}"]
    if chat.message_id:
        trailers.append(f"Chat-Message-Id: {chat.message_id}")
    if chat.url:
        trailers.append(f"Chat-Url: {chat.url}")
    return f"{head} (chat_id={chat.chat_id})\n\n" + "\n".join(trailers) + "\n"


def _actor(identity: Identity) -> git.Actor:
    return git.Actor(identity.name, identity.email)


def changed_files(repo: SafeRepo, sha: str) -> list[str]:
    """The paths commit `sha` changed against its first parent (no diff driver or external diff runs)."""
    out = repo.git.diff_tree("--root", "--no-commit-id", "-r", "-z", "--name-only", "--no-renames", "--no-textconv", "--no-ext-diff", sha)
    return sorted(p for p in out.split("\0") if p)


def _made_for(repo: SafeRepo, chat: ChatLink | None) -> CommitResult | None:
    """HEAD, when it is the commit of this chat message (made before a crash cut the caller short)."""
    if chat is None or not chat.message_id:
        return None
    head = repo.head.commit
    if f"Chat-Message-Id: {chat.message_id}" not in str(head.message).splitlines():
        return None
    files = changed_files(repo, head.hexsha)
    return CommitResult(sha=head.hexsha, message=str(head.message), author=f"{head.author.name} <{head.author.email}>", files=files)


def commit_all(
    repo: SafeRepo, message: str, author: Identity, committer: Identity, chat: ChatLink | None, *, leave: Sequence[str] = ()
) -> CommitResult:
    """Stage every change in the worktree but the untracked files `leave` names, and commit it; refuse an empty commit.

    Idempotent per chat message: when HEAD already is this message's commit and nothing is pending, it is returned.
    """
    repo.git.add("--all", "--", ".", *(f":(exclude,literal){path}" for path in leave))
    staged = repo.git.diff("--cached", "--name-only", "-z").split("\0")
    files = sorted(f for f in staged if f)
    if not files:
        made = _made_for(repo, chat)
        if made is not None:
            return made
        raise NothingToCommit("nothing to commit: the workspace has no pending changes")
    text = commit_message(message, author, chat)
    commit = repo.commit_index(text, author=_actor(author), committer=_actor(committer))
    return CommitResult(sha=commit.hexsha, message=text, author=str(author), files=files)


def worktree_tree(repo: SafeRepo, *, leave: Sequence[str] = ()) -> str:
    """The id of the tree `commit_all(…, leave=leave)` would commit now, staged in a temporary index (the real one is
    untouched)."""
    with tempfile.TemporaryDirectory(prefix="devspace-index-") as tmp:
        env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        repo.git.read_tree("HEAD", env=env)
        repo.git.add("--all", "--", ".", *(f":(exclude,literal){path}" for path in leave), env=env)
        return str(repo.git.write_tree(env=env)).strip()


def revert_commit(repo: SafeRepo, sha: str, committer: Identity, *, leave: Sequence[str] = ()) -> CommitResult:
    """Add a commit that undoes `sha` (history is never rewritten); untracked files `leave` names do not count as pending."""
    if repo.is_dirty(untracked_files=False) or any(path not in leave for path in repo.untracked_files):
        raise WorkspaceError("cannot revert a commit while patches are pending; undo or commit them first")
    files = changed_files(repo, repo.commit(sha).hexsha)
    env = {
        "GIT_COMMITTER_NAME": committer.name,
        "GIT_COMMITTER_EMAIL": committer.email,
        "GIT_AUTHOR_NAME": committer.name,
        "GIT_AUTHOR_EMAIL": committer.email,
    }
    try:
        repo.git.revert("--no-edit", sha, env=env)
    except git.GitCommandError as exc:
        repo.git.revert("--abort")
        raise WorkspaceError(f"cannot revert {sha[:10]}: {exc.stderr.strip()[:300]}") from exc
    head = repo.head.commit
    return CommitResult(sha=head.hexsha, message=str(head.message), author=str(committer), files=files)
