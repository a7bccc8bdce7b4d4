#!/usr/bin/env python3
"""Message protocol: parse cost against input size and against plain line splitting, side by side,
and how often a naive line regex would fire where the protocol must not.

Per input shape, at 1 MB and 4 MB: parse time, `str.split("\\n")` time on the same text, their ratio,
and the 4 MB / 1 MB time ratio (about 4 for a linear parser, about 16 for a quadratic one).
Then `format_post` on long replies, and a false-fire count on tricky messages for the protocol vs
the naive regex `^\\s*@agent\\b.*` that a first implementation would use.

Usage: benchmarks/protocol.py [--repeat N]
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bridge.models import Reply
from bridge.protocol import format_post, parse, sign

MB = 1_000_000
NAIVE = re.compile(r"^\s*@agent\b.*", re.MULTILINE | re.IGNORECASE)


def sized(unit: str, size: int) -> str:
    return unit * (size // len(unit) + 1)


SHAPES: dict[str, Callable[[int], str]] = {
    "fenced patch": lambda n: "@agent code improvement file_id=1\n```diff\n" + sized("+    let a = v[0]; // [x]\n", n) + "```\n",
    "bracket patch": lambda n: "@agent code improvement file_id=1 [\n" + sized(" let b = w[i[1]];\n", n) + "]\n",
    "chat prose": lambda n: sized("Some prose with `code`, [a link](x) and an @agent mention.\n", n),
    "russian prose": lambda n: sized("Оптимизировать функцию adjust_to_monday, см. `aggr_trades`.\n", n),
    "command lines": lambda n: sized("@agent code test #aggr_trades\nok\n", n),
    "fence storm": lambda n: sized("```\n@agent undo\n", n),
    "quote fences": lambda n: sized("> ```\n", n),
    "blank lines": lambda n: "\n" * n,
}

TRICKY = [
    "```\n@agent undo\n```",
    "~~~diff\n+@agent commit [msg: x]\n~~~",
    "- step\n  ```\n  @agent undo\n  ```",
    "Type `this\n@agent undo` in the chat.",
    "@agents are here",
    sign("Reply with:\n@agent code improvement file_id=3\n```diff\n-a\n+b\n```"),
    "unclosed\n```\n@agent undo",
    "> ```\n> x\n```\n@agent undo",
]
GENUINE = [
    "@agent code test #aggr_trades",
    "  @Agent check compile",
    "@agent commit [msg: Оптимизирована функция]",
    "text\n@agent code improvement file_id=5\n```diff\n-a\n+b\n```",
]


def best(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    parse(SHAPES["russian prose"](MB))  # warm up: regexes and Unicode tables load on first use
    print(f"{'shape':15} {'parse 1MB':>10} {'parse 4MB':>10} {'4MB/1MB':>8} {'split 4MB':>10} {'parse/split':>11}")
    for name, make in SHAPES.items():
        small, large = make(MB), make(4 * MB)
        t1 = best(lambda text=small: parse(text), args.repeat)
        t4 = best(lambda text=large: parse(text), args.repeat)
        split = best(lambda text=large: text.split("\n"), args.repeat)
        print(f"{name:15} {t1 * 1000:8.1f}ms {t4 * 1000:8.1f}ms {t4 / t1:8.2f} {split * 1000:8.1f}ms {t4 / split:11.1f}")

    print()
    print(f"{'reply':15} {'chars':>9} {'parts':>6} {'longest':>8} {'limit':>6} {'time':>9}")
    for name, text in {
        "1 MB fenced": "```rust\n" + sized("let x = v[0];\n", MB) + "```",
        "4 MB fenced": "```rust\n" + sized("let x = v[0];\n", 4 * MB) + "```",
        "30 kB summary": sized("error[E0308]: mismatched types at src/lib.rs:12:5\n", 30_000),
    }.items():
        elapsed = best(lambda text=text: format_post(Reply(text=text), limit=8000, max_parts=1000), args.repeat)
        parts = format_post(Reply(text=text), limit=8000, max_parts=1000)
        print(f"{name:15} {len(text):9} {len(parts):6} {max(map(len, parts)):8} {8000:6} {elapsed * 1000:7.1f}ms")

    print()
    naive_false = sum(1 for text in TRICKY if NAIVE.search(text))
    ours_false = sum(len(parse(text).commands) for text in TRICKY)
    naive_true = sum(1 for text in GENUINE if NAIVE.search(text))
    ours_true = sum(len(parse(text).commands) for text in GENUINE)
    print(f"tricky messages (no command inside): naive regex fires on {naive_false}/{len(TRICKY)}, protocol on {ours_false}/{len(TRICKY)}")
    print(f"genuine commands: naive regex finds {naive_true}/{len(GENUINE)}, protocol {ours_true}/{len(GENUINE)}")
    big = SHAPES["chat prose"](4 * MB)
    naive_t = best(lambda: NAIVE.findall(big), args.repeat)
    ours_t = best(lambda: parse(big), args.repeat)
    print(f"4 MB of prose: naive regex {naive_t * 1000:.1f}ms, protocol {ours_t * 1000:.1f}ms (ratio {ours_t / naive_t:.2f})")


if __name__ == "__main__":
    main()
