"""Which edited paths can run code when the project is built."""

from __future__ import annotations

from fnmatch import fnmatchcase

# Matched case-insensitively against "/" + the project-relative path, so "*/" means "in any folder".
BUILD_SENSITIVE: tuple[str, ...] = (
    "*/build.rs",  # cargo build scripts
    "*/Cargo.toml",  # manifests: build scripts, proc-macros, dependencies, build settings
    "*/Cargo.lock",  # which dependency sources (and their build scripts) get compiled
    "*/rust-toolchain*",  # which toolchain runs
    "*/.cargo/*",  # cargo config: runners, rustc wrappers, linkers, env
)


def is_build_sensitive(path: str) -> bool:
    probe = "/" + path.casefold()
    return any(fnmatchcase(probe, pattern.casefold()) for pattern in BUILD_SENSITIVE)
