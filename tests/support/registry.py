"""A sparse cargo registry served over HTTP on loopback: cargo's index layout and .crate files built from Debian's crate
sources (`/usr/share/cargo/registry`, the layout `cargo vendor` writes). The fetch stage's tests and
scripts/container-check point cargo at it as a mirror of crates.io."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

DEBIAN_REGISTRY = Path("/usr/share/cargo/registry")


def index_path(name: str) -> str:
    """Cargo's index layout: 1/a, 2/ab, 3/a/abc, ab/cd/abcd…"""
    name = name.lower()
    if len(name) <= 2:
        return f"{len(name)}/{name}"
    if len(name) == 3:
        return f"3/{name[0]}/{name}"
    return f"{name[:2]}/{name[2:4]}/{name}"


def crate_file(source: Path) -> tuple[str, str, bytes]:
    """(name, version, .crate bytes): a gzipped tar of `<name>-<version>/…` from a Debian crate source folder."""
    name, version = source.name.rsplit("-", 1)
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for path in sorted(source.rglob("*")):
            if path.is_file() and path.name != ".cargo-checksum.json":
                tar.add(path, arcname=f"{name}-{version}/{path.relative_to(source).as_posix()}")
    return name, version, buffer.getvalue()


@dataclass
class Registry:
    """The running registry: its URL (ends in `/`), the paths and headers of the requests it answered, and whether it
    asks for authentication (RFC 3139: cargo sends its token after a 401)."""

    url: str
    root: Path
    requests: list[str] = field(default_factory=list)
    headers: list[str] = field(default_factory=list)
    auth_required: bool = False

    @property
    def index(self) -> str:
        """The registry as cargo names it in a `[source]` or `[registries]` table."""
        return f"sparse+{self.url}"


@contextmanager
def serve_registry(root: Path, crates: list[Path]) -> Iterator[Registry]:
    """A sparse registry under `root` holding each of `crates` (Debian crate source folders, dependency-free), served
    on a free loopback port until the block ends."""
    (root / "crates").mkdir(parents=True)
    for source in crates:
        name, version, data = crate_file(source)
        (root / "crates" / f"{name}-{version}.crate").write_bytes(data)
        entry = {"name": name, "vers": version, "deps": [], "cksum": hashlib.sha256(data).hexdigest(), "features": {}, "yanked": False}
        index = root / index_path(name)
        index.parent.mkdir(parents=True, exist_ok=True)
        with index.open("a") as lines:
            lines.write(json.dumps(entry) + "\n")
    seen = Registry(url="", root=root)

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def do_GET(self) -> None:
            seen.requests.append(self.path)
            seen.headers.append(str(self.headers))
            if seen.auth_required and "Authorization" not in self.headers:
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen.url = f"http://127.0.0.1:{server.server_address[1]}/"
    (root / "config.json").write_text(json.dumps({"dl": seen.url + "crates/{crate}-{version}.crate", "api": None}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
