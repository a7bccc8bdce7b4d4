"""`python -m sandbox serve|mcp`: the sandbox's commands on their own, without the bridge."""

from sandbox.cli import sandbox_app

sandbox_app(prog_name="python -m sandbox")
