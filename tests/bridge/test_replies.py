"""The post for a landed patch: its warnings travel with the check's summary."""

from __future__ import annotations

from bridge.replies import updated_post
from sandbox.models import ApplyResult


def test_a_landed_patch_warns_of_new_files_cargo_never_compiles() -> None:
    applied = ApplyResult(ok=True, created=["src/broken.rs", "src/ok.rs"], undeclared=["src/broken.rs"], stat={"src/broken.rs": (1, 0)})
    post = updated_post(applied, "**check degradation: OK**", "", 2000)
    assert post.startswith("Updated src/broken.rs, src/ok.rs")
    assert "Not compiled: `src/broken.rs`: no `mod` declares it" in post and "`src/ok.rs`:" not in post
    assert post.endswith("**check degradation: OK**")


def test_a_landed_patch_with_every_file_compiled_has_no_such_warning() -> None:
    applied = ApplyResult(ok=True, created=["src/ok.rs"], stat={"src/ok.rs": (1, 0)})
    assert "Not compiled" not in updated_post(applied, "**check degradation: OK**", "", 2000)
