"""A real open-source project with registry dependencies, built offline: the executor vs plain cargo.

The project is BurntSushi's `ignore` 0.4.18 (ripgrep's directory walker: 9 direct and 15 compiled
registry dependencies, 143 tests), taken with its dependencies from Debian's crate sources under
/usr/share/cargo/registry (`apt-get install librust-ignore-dev`), which a cargo home's config.toml
names as the replacement of crates-io. Printed, side by side in one run:

- cold: the attach-time environment check (the base's build and tests, once) vs `cargo build
  --all-targets` + `cargo test` in a fresh copy with a fresh target dir;
- the first degradation check with no attach check before it (the base is built then, into the
  workspace's target dir: one cold build for base and workspace together, where it used to be two);
- one edit→verdict cycle, repeated: `apply` + `check degradation` vs the same edit + `cargo build
  --all-targets` + `cargo test`; the ratio of medians (goal ≤ 1.2), and whether any degradation check
  had to build the base again (it must not).

    .venv/bin/python benchmarks/real_project.py [--rounds 5] [--isolation bwrap|auto|none]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox.cargo import RunLimits, cargo_env  # noqa: E402
from sandbox.config import SandboxConfig  # noqa: E402
from sandbox.local import LocalExecutor  # noqa: E402
from sandbox.logs import setup_logging  # noqa: E402
from sandbox.operations import ApplyRequest, CheckDegradationRequest, PreflightRequest  # noqa: E402

REGISTRY = Path("/usr/share/cargo/registry")
CRATE = "ignore-0.4.18"
FILE = "src/walk.rs"
LINE = "    pub fn new<P: AsRef<Path>>(path: P) -> WalkBuilder {"


def payload(old: str, new: str) -> str:
    return f"{FILE}\n```rust\n<<<<<<< SEARCH\n{old}\n=======\n{new}\n>>>>>>> REPLACE\n```\n"


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@devspace.local", *args], cwd=cwd, check=True, capture_output=True)


def project_copy(dest: Path, cargo_home: Path) -> Path:
    shutil.copytree(REGISTRY / CRATE, dest)
    (dest / ".cargo-checksum.json").unlink(missing_ok=True)
    (dest / ".gitignore").write_text("target/\n")
    cargo(["generate-lockfile"], dest, dest / "target", cargo_home)
    git("init", "-q", cwd=dest)
    git("add", "--all", cwd=dest)
    git("commit", "-q", "-m", "ignore 0.4.18", cwd=dest)
    return dest


def cargo(args: list[str], cwd: Path, target: Path, cargo_home: Path) -> None:
    env = cargo_env(target) | {"CARGO_HOME": str(cargo_home)}
    subprocess.run(["cargo", "--offline", *args], cwd=cwd, env=env, check=True, capture_output=True)


def plain_cycle(direct: Path, target: Path, cargo_home: Path) -> float:
    start = time.perf_counter()
    cargo(["build", "--all-targets"], direct, target, cargo_home)
    cargo(["test", "--no-fail-fast"], direct, target, cargo_home)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--isolation", choices=["bwrap", "auto", "none"], default="bwrap")
    parser.add_argument("-v", action="store_true", help="log every cargo run with its time")
    args = parser.parse_args()
    if not (REGISTRY / CRATE).is_dir():
        sys.exit(f"{REGISTRY / CRATE} is missing: apt-get install librust-ignore-dev")
    setup_logging("INFO" if args.v else "WARNING")

    with tempfile.TemporaryDirectory(prefix="devspace-real-") as tmp:
        base = Path(tmp)
        cargo_home = base / "cargo-home"
        cargo_home.mkdir()
        (cargo_home / "config.toml").write_text(f'[source.crates-io]\nreplace-with = "debian"\n\n[source.debian]\ndirectory = "{REGISTRY}"\n')
        project = project_copy(base / "project", cargo_home)
        direct = project_copy(base / "direct", cargo_home)
        direct_target = base / "direct-target"
        limits = RunLimits(isolation=args.isolation)
        executor = LocalExecutor(project, SandboxConfig(home=base / "home", limits=limits, cargo_home=cargo_home))

        cold_plain = plain_cycle(direct, direct_target, cargo_home)
        start = time.perf_counter()
        found = executor.run(PreflightRequest())
        cold_ours = time.perf_counter() - start
        assert found.base.ok, found.base.error
        tests = len(found.base.tests)

        late = LocalExecutor(project_copy(base / "late", cargo_home), SandboxConfig(home=base / "late-home", limits=limits, cargo_home=cargo_home))
        start = time.perf_counter()
        assert late.run(ApplyRequest(payload=payload(LINE, LINE + " // first"))).ok
        first = late.run(CheckDegradationRequest())
        first_check = time.perf_counter() - start
        assert first.ok, (first.error, first.regressions)
        late.close()
        if args.v:
            print(subprocess.run(["grep", "-h", "Compiling", *map(str, (base / "late-home").rglob("*.log"))], capture_output=True, text=True).stdout)

        ours: list[float] = []
        plain: list[float] = []
        base_rebuilds = 0
        current = LINE
        for number in range(args.rounds):
            new = LINE + f" // edit {number}"
            start = time.perf_counter()
            applied = executor.run(ApplyRequest(payload=payload(current, new)))
            verdict = executor.run(CheckDegradationRequest())
            ours.append(time.perf_counter() - start)
            assert applied.ok and verdict.ok, (applied.error, verdict.error, verdict.regressions)
            base_rebuilds += verdict.base_duration is not None
            path = direct / FILE
            path.write_text(path.read_text().replace(current, new))
            plain.append(plain_cycle(direct, direct_target, cargo_home))
            current = new
        executor.close()

    print(f"project: {CRATE} from Debian's crate sources, {tests} tests, isolation={args.isolation}")
    print(f"cold: environment check at attach {cold_ours:.1f} s vs plain cargo build+test {cold_plain:.1f} s (ratio {cold_ours / cold_plain:.2f})")
    print(f"first check with no attach check: {first_check:.1f} s (the base {first.base_duration or 0:.1f} s, the patch {first.duration:.1f} s) "
          f"vs one plain cold build+test {cold_plain:.1f} s (ratio {first_check / cold_plain:.2f})")
    print(f"edit→verdict: executor median {statistics.median(ours):.2f} s vs plain cargo {statistics.median(plain):.2f} s "
          f"(ratio {statistics.median(ours) / statistics.median(plain):.2f}, goal ≤ 1.2) over {args.rounds} rounds")
    print(f"degradation checks that built the base again: {base_rebuilds} of {args.rounds}")


if __name__ == "__main__":
    main()
