"""Colloqium DevSpace's sandbox: the project side, standing alone (it never imports the bridge).

Its public interface, for the bridge and for anyone else:

- `sandbox.operations`: every operation's declaration and request model; `sandbox.models`: results;
  `sandbox.errors`: every error with its wire code and HTTP status.
- `sandbox.executor`: the Executor contract; `sandbox.local` (in-process), `sandbox.client`
  (over HTTP) and `sandbox.fake` (for tests) implement it.
- `sandbox.settings`: settings from env and YAML; `sandbox.cli`: `serve` and `mcp`
  (`python -m sandbox`).
- `sandbox.patch`: the applier; `sandbox.summary`: results as bounded chat text.
- Utilities the bridge shares: `sandbox.text`, `sandbox.redact`, `sandbox.logs`, `sandbox.sqlite`,
  `sandbox.serving`.

Everything else (cargo, git, isolation, the servers) is internal.
"""

PUBLIC = frozenset({
    "operations", "models", "errors", "executor", "local", "client", "fake", "settings", "cli",
    "patch", "summary", "text", "redact", "logs", "sqlite", "serving",
})
"""The modules of the public interface (see above)."""
