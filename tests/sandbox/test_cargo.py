"""Cargo runs and their parsing: real cargo on copies of the example crate, and captured cargo output."""

from __future__ import annotations

import json
import socket
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sandbox import proc
from sandbox.cargo import (
    RunLimits,
    cargo_errors,
    check_compile,
    check_test,
    panic_of,
    parse_diagnostics,
    parse_libtest,
    run_cargo,
)
from sandbox.errors import SandboxError
from sandbox.isolation import isolation_available
from sandbox.models import CheckResult

DATA = Path(__file__).resolve().parents[1] / "data" / "cargo"
needs_bwrap = pytest.mark.skipif(not isolation_available(), reason="bubblewrap is missing or cannot create namespaces here")


# captured output --------------------------------------------------------------------------------------
def test_libtest_mixed_run_per_binary() -> None:
    report = parse_libtest((DATA / "test_run_mixed.txt").read_text())
    names = [b.name for b in report.binaries]
    assert names == [
        "unittests src/lib.rs",
        "unittests src/main.rs",
        "tests/cli.rs",
        "tests/exits.rs",
        "tests/other.rs",
        "doc-tests demo",
    ]
    lib = report.binaries[0]
    assert (lib.passed, lib.failed, lib.ignored, lib.ok, lib.crashed) == (2, 2, 2, False, False)
    assert report.binaries[1].ok and not report.binaries[1].crashed
    by_name = {(t.binary, t.name): t for t in report.tests}
    assert by_name[("unittests src/lib.rs", "tests::sp")].outcome == "passed"  # "- should panic" is not part of the name
    assert by_name[("unittests src/lib.rs", "tests::slow")].outcome == "ignored"  # "ignored, slow"
    assert by_name[("unittests src/lib.rs", "tests::slow2")].outcome == "ignored"
    bad_eq = by_name[("unittests src/lib.rs", "tests::bad_eq")]
    assert bad_eq.outcome == "failed"
    assert bad_eq.location == "src/lib.rs:12:27"
    assert bad_eq.message == "assertion `left == right` failed\n  left: 2\n right: 3"
    assert by_name[("unittests src/lib.rs", "tests::bad_panic")].message == "boom\nsecond line"
    assert by_name[("tests/other.rs", "c")].location == "tests/other.rs:1:29"
    doc = by_name[("doc-tests demo", "src/lib.rs - add (line 3)")]
    assert doc.outcome == "failed" and doc.message.startswith("assertion `left == right` failed")


def test_libtest_reports_crashed_binaries_with_their_cause() -> None:
    report = parse_libtest((DATA / "test_run_mixed.txt").read_text())
    crashed = {b.name: b for b in report.binaries if b.crashed}
    assert set(crashed) == {"tests/cli.rs", "tests/exits.rs"}
    assert all(not b.ok for b in crashed.values())
    assert report.crashes == ["tests/cli.rs: signal: 6, SIGABRT: process abort signal", "tests/exits.rs: exit status: 3"]


def test_libtest_old_panic_format() -> None:
    report = parse_libtest((DATA / "test_run_old_format.txt").read_text())
    failed = {t.name: t for t in report.tests if t.outcome == "failed"}
    assert failed["tests::bad_eq"].location == "src/lib.rs:12:9"
    assert failed["tests::bad_eq"].message == "assertion failed: `(left == right)`\n  left: `2`,\n right: `3`"
    assert failed["tests::boom"].message == "boom"
    assert failed["tests::boom"].location == "src/lib.rs:17:9"
    assert report.binaries[0].ignored == 1 and not report.binaries[0].crashed


@pytest.mark.parametrize(
    ("section", "message", "location"),
    [
        (
            "thread 't' (9148) panicked at src/a.rs:3:5:\nboom\nnote: run with `RUST_BACKTRACE=1` environment variable",
            "boom",
            "src/a.rs:3:5",
        ),
        ("thread 't' panicked at src/a.rs:3:5:\nline one\nline two\n", "line one\nline two", "src/a.rs:3:5"),
        ("thread 't' panicked at 'it broke', src/a.rs:3:5\nnote: run with", "it broke", "src/a.rs:3:5"),
        ("Error: ParseIntError { kind: InvalidDigit }\n", "Error: ParseIntError { kind: InvalidDigit }", None),
    ],
    ids=["rustc-1.9x", "rustc-1.73", "rustc-old", "no-panic"],
)
def test_panic_formats(section: str, message: str, location: str | None) -> None:
    assert panic_of(section) == (message, location)


def test_libtest_timeout_marks_the_running_binary() -> None:
    text = "     Running tests/cli.rs (target/debug/deps/cli-1)\n\nrunning 2 tests\ntest quick ... ok\n"
    report = parse_libtest(text, timed_out=True)
    assert report.binaries[0].ok is False
    assert report.crashes == ["tests/cli.rs: killed at the timeout"]
    assert [t.name for t in report.tests] == ["quick"]


def test_json_diagnostics_deduplicated_and_located() -> None:
    diags = parse_diagnostics((DATA / "build_errors.jsonl").read_text())
    errors = [d for d in diags if d.level == "error"]
    warnings = [d for d in diags if d.level == "warning"]
    assert sorted({d.code for d in errors}) == ["E0277", "E0308", "E0425"]
    assert sorted(d.line for d in errors if d.code == "E0308") == [3, 5, 7, 8]  # built for lib and lib test: each once
    assert len({(d.code, d.location) for d in diags}) == len(diags)
    assert {d.message for d in warnings} == {"unused variable: `unused`", "unused variable: `unused_in_test`"}
    assert all(d.file == "src/lib.rs" and d.rendered for d in diags)
    e0277 = next(d for d in errors if d.code == "E0277")
    assert e0277.location == "src/lib.rs:2:29"  # inside println!, reported at the project's own span
    assert e0277.rendered.startswith("error[E0277]")


def test_primary_span_followed_out_of_toolchain_files() -> None:
    span_in_std = {
        "file_name": "/rustc/abc/library/core/src/macros/mod.rs",
        "line_start": 40,
        "column_start": 9,
        "is_primary": True,
        "expansion": {
            "span": {"file_name": "src/lib.rs", "line_start": 7, "column_start": 5, "is_primary": False, "expansion": None}
        },
    }
    record = {
        "reason": "compiler-message",
        "message": {"level": "error", "message": "m", "code": {"code": "E0308"}, "spans": [span_in_std], "rendered": "r"},
    }
    (diag,) = parse_diagnostics(json.dumps(record))
    assert diag.location == "src/lib.rs:7:5"


def test_cargo_error_blocks_keep_their_cause() -> None:
    text = (
        "   Compiling probe v0.1.0 (/home/dev/probe)\n"
        "error: failed to run custom build command for `probe v0.1.0 (/home/dev/probe)`\n\n"
        "Caused by:\n  process didn't exit successfully: `/t/build-script-build` (exit status: 101)\n"
        "  --- stderr\n  thread 'main' panicked at build.rs:3:5:\n  probe: refused\n"
        "warning: build failed, waiting for other jobs to finish...\n"
        "error: test failed, to rerun pass `--lib`\n"
    )
    (diag,) = cargo_errors(text)
    assert diag.message.startswith("failed to run custom build command")
    assert "probe: refused" in diag.rendered and "waiting for other jobs" not in diag.rendered


# the process runner ---------------------------------------------------------------------------------
def test_output_cap_keeps_head_and_tail(tmp_path: Path) -> None:
    code = "import sys\nfor i in range(100_000): print(f'line {i:06d}')\nprint('THE END', file=sys.stderr)"
    result = proc.run([sys.executable, "-c", code], cwd=tmp_path, env=proc.clean_env(["PATH"]), timeout=60, output_cap=64_000)
    assert result.returncode == 0
    assert result.truncated and result.dropped > 1_000_000
    lines = result.stdout.splitlines()
    assert lines[0] == "line 000000" and lines[-1] == "line 099999"
    assert "bytes of output dropped" in result.stdout
    assert result.stderr.strip() == "THE END"
    assert len(result.stdout) + len(result.stderr) < 64_000 + 200


def test_memory_limit_applies(tmp_path: Path) -> None:
    code = "b = bytearray(400 * 1024 * 1024); print('ALLOCATED')"
    env = proc.clean_env(["PATH"])
    limited = proc.run([sys.executable, "-c", code], cwd=tmp_path, env=env, timeout=60, output_cap=100_000, memory_mb=200)
    assert limited.returncode != 0 and "MemoryError" in limited.stderr
    unlimited = proc.run([sys.executable, "-c", code], cwd=tmp_path, env=env, timeout=60, output_cap=100_000, memory_mb=None)
    assert unlimited.returncode == 0 and "ALLOCATED" in unlimited.stdout


def test_timeout_kills_the_whole_group(tmp_path: Path, sleep_marker: str, reap_marked: Callable[[str], list[int]]) -> None:
    script = f"sleep {sleep_marker} & sleep {sleep_marker} & wait"
    result = proc.run(["/bin/sh", "-c", script], cwd=tmp_path, env=proc.clean_env(["PATH"]), timeout=1, output_cap=10_000)
    assert result.timed_out and result.returncode < 0
    assert reap_marked(sleep_marker) == []


def test_clean_env_keeps_only_named_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XAI_API_KEY", "xai-should-not-pass")
    env = proc.clean_env(["PATH", "HOME"], {"EXTRA": "1"})
    assert set(env) <= {"PATH", "HOME", "EXTRA"} and env["EXTRA"] == "1"


# real cargo on the example crate ---------------------------------------------------------------------
def _write(crate: Path, rel: str, rust: str) -> None:
    path = crate / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(rust).lstrip("\n"))


def _add_module(crate: Path, name: str, rust: str) -> None:
    """Add `src/<name>.rs` to the library."""
    _write(crate, f"src/{name}.rs", rust)
    with (crate / "src" / "lib.rs").open("a") as fh:
        fh.write(f"\npub mod {name};\n")


def _compile(crate: Path, tmp_path: Path, **limits: Any) -> CheckResult:
    limits.setdefault("timeout", 300)
    return check_compile(crate, target_dir=tmp_path / "target", limits=RunLimits(**limits), log_path=tmp_path / "compile.log")


def _tests(crate: Path, tmp_path: Path, filter: str | None = None, **limits: Any) -> CheckResult:
    limits.setdefault("timeout", 300)
    return check_test(crate, filter, target_dir=tmp_path / "target", limits=RunLimits(**limits), log_path=tmp_path / "test.log")


@pytest.mark.cargo
def test_clean_copy_compiles_and_passes(crate_copy: Path, tmp_path: Path) -> None:
    build = _compile(crate_copy, tmp_path)
    assert build.ok and build.errors == [] and not build.timed_out
    assert "cargo --offline build --all-targets" in Path(build.log_path).read_text()
    result = _tests(crate_copy, tmp_path)
    assert result.ok and result.error is None, result.error
    names = [b.name for b in result.binaries]
    assert {"unittests src/lib.rs", "unittests src/main.rs", "tests/cli.rs", "doc-tests trade_report"} <= set(names)
    assert sum(b.passed for b in result.binaries) == sum(t.outcome == "passed" for t in result.tests) > 0
    aggr = [t for t in result.tests if t.name.split("::")[-1].startswith("aggr_trades_")]
    assert aggr and all(t.outcome == "passed" and t.binary == "unittests src/lib.rs" for t in aggr)
    assert not (crate_copy / "target").exists()  # artifacts went to the given target dir


@pytest.mark.cargo
def test_filter_selects_tests(crate_copy: Path, tmp_path: Path) -> None:
    result = _tests(crate_copy, tmp_path, "aggr_trades")
    assert result.ok and result.filter == "aggr_trades"
    assert result.tests and all("aggr_trades" in t.name for t in result.tests)


def test_filter_cannot_inject_options(tmp_path: Path) -> None:
    result = check_test(tmp_path, "--list", target_dir=tmp_path / "t", limits=RunLimits(), log_path=tmp_path / "x.log")
    assert not result.ok and "refused test filter" in (result.error or "")
    assert not (tmp_path / "x.log").exists()  # cargo never ran


@pytest.mark.cargo
def test_compile_errors_structured(crate_copy: Path, tmp_path: Path) -> None:
    _add_module(
        crate_copy,
        "broken",
        """
        pub fn count() -> usize {
            "three"
        }

        pub fn total() -> u64 {
            missing_total + 1
        }
        """,
    )
    result = _compile(crate_copy, tmp_path)
    assert not result.ok
    errors = {(d.code, d.location) for d in result.errors}
    assert errors == {("E0308", "src/broken.rs:2:5"), ("E0425", "src/broken.rs:6:5")}
    assert len(result.errors) == 2  # the lib and its test harness both report them; kept once
    assert all(d.rendered and d.rendered.startswith(f"error[{d.code}]") for d in result.errors)
    assert not any("could not compile" in d.message for d in result.diagnostics)


@pytest.mark.cargo
def test_test_only_warnings_count(crate_copy: Path, tmp_path: Path) -> None:
    _add_module(
        crate_copy,
        "probe",
        """
        #[cfg(test)]
        mod t {
            #[test]
            fn w() {
                let unused_here = 1;
            }
        }
        """,
    )
    result = _compile(crate_copy, tmp_path)
    assert result.ok
    assert [(d.code, d.location) for d in result.warnings] == [("unused_variables", "src/probe.rs:5:13")]


@pytest.mark.cargo
def test_failures_panics_and_crashes(crate_copy: Path, tmp_path: Path) -> None:
    _add_module(
        crate_copy,
        "probe",
        """
        #[cfg(test)]
        mod t {
            #[test]
            fn probe_eq() {
                assert_eq!(1 + 1, 3, "arithmetic");
            }

            #[test]
            fn probe_ok() {}
        }
        """,
    )
    _write(
        crate_copy,
        "tests/probe_abort.rs",
        """
        #[test]
        fn probe_aborts() {
            std::process::abort();
        }
        """,
    )
    result = _tests(crate_copy, tmp_path, "probe_")
    assert not result.ok
    (failed,) = result.failed_tests
    assert (failed.name, failed.binary, failed.location) == ("probe::t::probe_eq", "unittests src/lib.rs", "src/probe.rs:5:9")
    assert failed.message.startswith("assertion `left == right` failed: arithmetic")
    crashed = next(b for b in result.binaries if b.name == "tests/probe_abort.rs")
    assert crashed.crashed and not crashed.ok
    assert "tests/probe_abort.rs" in result.error and "SIGABRT" in result.error
    assert any(t.name == "probe::t::probe_ok" and t.outcome == "passed" for t in result.tests)


@pytest.mark.cargo
def test_tests_that_do_not_compile(crate_copy: Path, tmp_path: Path) -> None:
    _write(
        crate_copy,
        "tests/probe_broken.rs",
        """
        #[test]
        fn t() {
            let x: u8 = "no";
        }
        """,
    )
    result = _tests(crate_copy, tmp_path)
    assert not result.ok and result.error == "the tests do not compile"
    assert [(d.code, d.location) for d in result.errors] == [("E0308", "tests/probe_broken.rs:3:17")]
    assert result.tests == []


@pytest.mark.cargo
def test_environment_is_clean(crate_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "DEVSPACE_PROBE_SECRET": "zebra-violet-4711",
        "OPENAI_API_KEY": "plain-looking-key-value",
        "GROK_SESSION_COOKIE": "cookie-crumb-9988",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    _add_module(
        crate_copy,
        "probe",
        """
        #[cfg(test)]
        mod t {
            #[test]
            fn probe_env() {
                for (k, v) in std::env::vars() {
                    println!("ENV {k}={v}");
                }
                panic!("printed");
            }
        }
        """,
    )
    result = _tests(crate_copy, tmp_path, "probe_env")
    log = Path(result.log_path).read_text()
    assert "ENV CARGO_TERM_COLOR=never" in log and "ENV PATH=" in log  # the printout is there
    for leaked in [*secrets, *secrets.values()]:
        assert leaked not in log
    assert "[redacted]" not in log  # absent, not masked


@pytest.mark.cargo
@pytest.mark.parametrize("isolation", ["none", pytest.param("auto", marks=needs_bwrap)])
def test_timeout_kills_hanging_tests(
    crate_copy: Path, tmp_path: Path, isolation: str, sleep_marker: str, reap_marked: Callable[[str], list[int]]
) -> None:
    _add_module(
        crate_copy,
        "probe",
        """
        #[cfg(test)]
        mod t {
            #[test]
            fn probe_hangs() {
                let _child = std::process::Command::new("sleep").arg("MARKER").spawn().unwrap();
                loop {
                    std::thread::sleep(std::time::Duration::from_secs(1));
                }
            }
        }
        """.replace("MARKER", sleep_marker),
    )
    assert _compile(crate_copy, tmp_path, isolation=isolation).ok  # so the time limit below is all for the test run
    result = _tests(crate_copy, tmp_path, "probe_hangs", timeout=6, isolation=isolation)
    assert result.timed_out and not result.ok
    assert "timed out" in result.error
    assert not next(b for b in result.binaries if b.name == "unittests src/lib.rs").ok
    assert reap_marked(sleep_marker) == []


@pytest.mark.cargo
def test_output_cap_keeps_verdicts(crate_copy: Path, tmp_path: Path) -> None:
    _add_module(
        crate_copy,
        "probe",
        """
        #[cfg(test)]
        mod t {
            #[test]
            fn probe_noisy() {
                for i in 0..200_000 {
                    println!("noise line {i}");
                }
                panic!("too noisy");
            }
        }
        """,
    )
    result = _tests(crate_copy, tmp_path, "probe_noisy", output_cap=100_000)
    assert result.output_truncated and not result.ok
    assert [t.name for t in result.failed_tests] == ["probe::t::probe_noisy"]
    lib = next(b for b in result.binaries if b.name == "unittests src/lib.rs")
    assert (lib.failed, lib.crashed) == (1, False)  # the result line at the end survived the cap
    log = Path(result.log_path).read_text()
    assert "bytes of output dropped" in log and len(log) < 300_000


def _build_script(crate: Path, body: str) -> None:
    """A build.rs whose `main` runs `body`."""
    _write(crate, "build.rs", "fn main() {\n" + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n}\n")


@pytest.mark.cargo
@pytest.mark.parametrize("isolation", [pytest.param("auto", marks=needs_bwrap), "none"])
def test_build_script_network(crate_copy: Path, tmp_path: Path, isolation: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(0.5)
        port = server.getsockname()[1]
        _build_script(
            crate_copy,
            f"""
            match std::net::TcpStream::connect(("127.0.0.1", {port})) {{
                Ok(_) => println!("cargo:warning=probe connected"),
                Err(e) => panic!("probe: connect refused: {{e}}"),
            }}
            """,
        )
        result = _compile(crate_copy, tmp_path, isolation=isolation)
        if isolation == "none":  # the control: the same build script does reach the listener
            assert result.ok
            server.accept()[0].close()
            return
        assert not result.ok
        (diag,) = result.errors
        assert diag.message.startswith("failed to run custom build command")
        assert "probe: connect refused" in diag.rendered
        with pytest.raises(TimeoutError):
            server.accept()


@pytest.mark.cargo
@pytest.mark.parametrize("isolation", [pytest.param("auto", marks=needs_bwrap), "none"])
def test_build_script_cannot_write_outside(crate_copy: Path, tmp_path: Path, isolation: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    target = outside / "escaped.txt"
    _build_script(crate_copy, f'std::fs::write("{target}", "x").unwrap_or_else(|e| panic!("probe: write refused: {{e}}"));')
    result = _compile(crate_copy, tmp_path, isolation=isolation)
    if isolation == "none":  # the control: unisolated, the write lands
        assert result.ok and target.read_text() == "x"
        return
    assert not result.ok and not target.exists()
    assert "probe: write refused" in result.errors[0].rendered


@pytest.mark.cargo
def test_run_cargo_reports_isolation(crate_copy: Path, tmp_path: Path) -> None:
    log = tmp_path / "v.log"
    plain = run_cargo(["--version"], cwd=crate_copy, target_dir=tmp_path / "t", limits=RunLimits(isolation="none"), log_path=log)
    assert plain.returncode == 0 and plain.stdout.startswith("cargo ") and plain.isolated is False
    if isolation_available():
        boxed = run_cargo(["--version"], cwd=crate_copy, target_dir=tmp_path / "t", limits=RunLimits(), log_path=log)
        assert boxed.isolated is True and boxed.returncode == 0
    assert log.read_text().count("$ cargo --offline --version") == (2 if isolation_available() else 1)


def test_required_bwrap_missing_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    isolation_available.cache_clear()
    try:
        with pytest.raises(SandboxError, match="bubblewrap"):
            run_cargo(
                ["--version"],
                cwd=tmp_path,
                target_dir=tmp_path / "t",
                limits=RunLimits(isolation="bwrap"),
                log_path=tmp_path / "l",
            )
    finally:
        isolation_available.cache_clear()
