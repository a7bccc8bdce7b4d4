"""Summary size and retention on large, real cargo logs.

Copies the example crate to a temp dir, breaks it in many ways (hundreds of compile errors over
two dozen error codes, hundreds of failing tests, tests that do not compile), runs the real checks
and prints, per case: raw log bytes, summary characters, compression ratio, distinct error codes in
the log vs in the summary, failing tests named vs total. Side by side, the same figures for a naive
summary that keeps the first `budget` characters of the log.

    python benchmarks/summary.py [--budget 1500] [--per-kind 20] [--failing 400]
"""

from __future__ import annotations

import argparse
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sandbox.cargo import RunLimits, check_compile, check_test
from sandbox.models import CheckResult
from sandbox.summary import DEFAULT_BUDGET, summarize_check

CRATE = Path(__file__).resolve().parents[1] / "examples" / "trade_report"

# One item per error kind: each produces its code once, independently of the others.
KINDS: dict[str, str] = {
    "E0308": 'pub fn e0308_{i}() -> i32 {{ "x" }}',
    "E0425": "pub fn e0425_{i}() -> i32 {{ undefined_{i} }}",
    "E0599": "pub fn e0599_{i}() {{ let v = 1u8; v.no_such_method_{i}(); }}",
    "E0382": "pub fn e0382_{i}() {{ let s = String::new(); let t = s; let u = s; drop((t, u)); }}",
    "E0499": "pub fn e0499_{i}() {{ let mut v = vec![1]; let a = &mut v; let b = &mut v; a.push(1); b.push(2); }}",
    "E0502": 'pub fn e0502_{i}() {{ let mut v = vec![1]; let first = &v[0]; v.push(2); println!("{{first}}"); }}',
    "E0277": 'pub fn e0277_{i}() -> i32 {{ 1i32 + "a" }}',
    "E0061": "fn takes_{i}(a: i32) -> i32 {{ a }} pub fn e0061_{i}() -> i32 {{ takes_{i}(1, 2) }}",
    "E0384": 'pub fn e0384_{i}() {{ let x = 1; println!("{{x}}"); x = 2; println!("{{x}}"); }}',
    "E0433": "pub fn e0433_{i}() {{ let _ = nosuchmod_{i}::f(); }}",
    "E0560": "pub struct S{i} {{ pub a: i32 }} pub fn e0560_{i}() -> S{i} {{ S{i} {{ a: 1, b: 2 }} }}",
    "E0063": "pub struct T{i} {{ pub a: i32 }} pub fn e0063_{i}() -> T{i} {{ T{i} {{}} }}",
    "E0609": "pub fn e0609_{i}(s: &String) -> usize {{ s.nofield_{i} }}",
    "E0614": "pub fn e0614_{i}() -> u32 {{ let x = 1u32; *x }}",
    "E0369": "pub struct P{i}; pub fn e0369_{i}() -> bool {{ P{i} == P{i} }}",
    "E0423": "pub fn e0423_{i}() {{ let _ = String; }}",
    "E0618": "pub fn e0618_{i}() {{ let x = 1; x(); }}",
    "E0596": "pub fn e0596_{i}() {{ let v = vec![1]; v.push(2); }}",
    "E0507": "pub fn e0507_{i}(v: &Vec<String>) -> String {{ v[0] }}",
    "E0106": "pub fn e0106_{i}(a: &str, _b: &str) -> &str {{ a }}",
    "E0597": "pub fn e0597_{i}() -> usize {{ let r; {{ let s = String::new(); r = &s; }} r.len() }}",
    "E0515": "pub fn e0515_{i}() -> &'static str {{ let s = String::new(); &s }}",
    "E0432": "pub fn e0432_{i}() {{ use nosuchcrate_{i}::x; }}",
    "unused": "pub fn warn_{i}() {{ let unused_{i} = 1; }}",
}


def broken_items(per_kind: int) -> str:
    return "\n".join(template.format(i=i) for i in range(per_kind) for template in KINDS.values()) + "\n"


def failing_tests(count: int, passing: int) -> str:
    fails = [
        f'    #[test]\n    fn fail_{i:04d}() {{\n        assert_eq!({i} + 1, {i}, "case {i}");\n    }}' for i in range(count)
    ]
    passes = [f"    #[test]\n    fn pass_{i:04d}() {{\n        assert_eq!({i} + 1, {i + 1});\n    }}" for i in range(passing)]
    return "#[cfg(test)]\nmod many {\n" + "\n".join(fails + passes) + "\n}\n"


def copy_crate(root: Path, name: str) -> Path:
    dest = root / name
    shutil.copytree(CRATE, dest, ignore=shutil.ignore_patterns("target", ".git"))
    return dest


def add_module(crate: Path, name: str, text: str) -> None:
    (crate / "src" / f"{name}.rs").write_text(text)
    with (crate / "src" / "lib.rs").open("a") as fh:
        fh.write(f"\npub mod {name};\n")


def case_compile(crate: Path, args: argparse.Namespace) -> None:
    add_module(crate, "broken", broken_items(args.per_kind))


def case_failing(crate: Path, args: argparse.Namespace) -> None:
    unit = args.failing * 3 // 5
    add_module(crate, "many_tests", failing_tests(unit, passing=50))
    (crate / "tests" / "many_failures.rs").write_text(failing_tests(args.failing - unit, passing=20))


def case_tests_broken(crate: Path, args: argparse.Namespace) -> None:
    (crate / "tests" / "broken.rs").write_text(broken_items(max(1, args.per_kind // 4)))


CASES: list[tuple[str, Callable[[Path, argparse.Namespace], None], str]] = [
    ("compile errors", case_compile, "compile"),
    ("failing tests", case_failing, "test"),
    ("tests do not compile", case_tests_broken, "test"),
]

_CODE = re.compile(r"\berror\[(E\d{4})\]")
_FAILED = re.compile(r"^test (\S.*?) \.\.\. FAILED$", re.M)


def measure(log: str, text: str) -> tuple[int, int, int, int]:
    """(codes in log, codes kept in text, failing tests in log, failing tests named in text)."""
    codes = set(_CODE.findall(log))
    failing = set(_FAILED.findall(log))
    kept_codes = {c for c in codes if re.search(rf"\b{c}\b", text)}
    named = {name for name in failing if re.search(rf"(?<![\w:]){re.escape(name)}(?![\w:])", text)}
    return len(codes), len(kept_codes), len(failing), len(named)


def run_case(
    root: Path, name: str, build: Callable[[Path, argparse.Namespace], None], kind: str, args: argparse.Namespace
) -> CheckResult:
    crate = copy_crate(root, name.replace(" ", "_"))
    build(crate, args)
    limits = RunLimits(timeout=900)
    log = root / f"{crate.name}.txt"
    if kind == "compile":
        return check_compile(crate, target_dir=root / "target", limits=limits, log_path=log)
    return check_test(crate, None, target_dir=root / "target", limits=limits, log_path=log)


COLUMNS = [("case", 22), ("budget", 7), ("log bytes", 10), ("summary", 8), ("ratio", 7), ("codes", 7), ("kept", 6)]
COLUMNS += [("naive", 6), ("failing", 8), ("named", 6), ("naive", 6), ("ms", 6)]


def row(*cells: object) -> str:
    return "".join(
        f"{cell!s:<{width}}" if i == 0 else f"{cell!s:>{width}}"
        for i, (cell, (_, width)) in enumerate(zip(cells, COLUMNS, strict=True))
    )


def percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--budget", type=int, action="append", help=f"summary budget(s); default {DEFAULT_BUDGET}, 800, 400")
    parser.add_argument("--per-kind", type=int, default=20, help="errors of each kind in the compile case")
    parser.add_argument("--failing", type=int, default=400, help="failing tests in the test case")
    parser.add_argument("--show", action="store_true", help="print each summary")
    args = parser.parse_args()
    budgets = args.budget or [DEFAULT_BUDGET, 800, 400]
    print("codes: distinct error codes in the raw log; kept: share of them in the summary; failing: failing tests in the log;")
    print("named: how many the summary names; naive: the same for the log's first <budget> characters.\n")
    print(row(*(title for title, _ in COLUMNS)))
    with tempfile.TemporaryDirectory(prefix="devspace-bench-") as tmp:
        for name, build, kind in CASES:
            result = run_case(Path(tmp), name, build, kind, args)
            log = Path(result.log_path or "").read_text(errors="replace")
            raw = len(log.encode())
            for budget in budgets:
                started = time.perf_counter()
                summary = summarize_check(result, budget=budget)
                elapsed = (time.perf_counter() - started) * 1000
                codes, kept, failing, named = measure(log, summary)
                _, naive_kept, _, naive_named = measure(log, log[:budget])
                ratio = f"{raw / len(summary):.0f}x"
                cells = [name, budget, raw, len(summary), ratio, codes, percent(kept, codes), percent(naive_kept, codes)]
                print(row(*cells, failing, named, naive_named, f"{elapsed:.1f}"))
                if args.show:
                    print(summary, end="\n\n")
            counts = f"{len(result.errors)} errors, {len(result.warnings)} warnings, {len(result.tests)} tests"
            print(f"  ({counts}; cargo {result.duration:.1f}s)")


if __name__ == "__main__":
    main()
