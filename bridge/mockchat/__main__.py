"""`python -m bridge.mockchat --port P --script rules.yaml`: the mock chat, standalone."""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn

from bridge.mockchat.app import MockOptions, create_app
from bridge.mockchat.assistant import Assistant, OpenAIAssistant, ScriptedAssistant, load_script


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bridge.mockchat", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--script", type=Path, help="YAML rules for the scripted assistant")
    parser.add_argument("--openai-model", help="answer with this model of an OpenAI-compatible endpoint instead")
    parser.add_argument("--openai-base-url", help="the endpoint (key from OPENAI_API_KEY)")
    parser.add_argument("--ui", choices=["classic", "grok-2026"], default="classic", help="which page `/` opens (both are served)")
    parser.add_argument("--composer", choices=["contenteditable", "textarea"], default="contenteditable")
    parser.add_argument("--live", action="store_true", help="push turns typed in other sessions without a reload")
    parser.add_argument("--window", type=int, help="virtualize: pages hold only the last N turns")
    parser.add_argument("--lossy", action="store_true", help="render code like a lossy UI")
    args = parser.parse_args(argv)
    assistant: Assistant = (
        OpenAIAssistant(args.openai_model, base_url=args.openai_base_url)
        if args.openai_model
        else ScriptedAssistant(load_script(args.script) if args.script else None)
    )
    options = MockOptions(ui=args.ui, composer=args.composer, live=args.live, window=args.window, lossy=args.lossy)
    uvicorn.run(create_app(assistant, options), host=args.host, port=args.port, timeout_graceful_shutdown=2)


if __name__ == "__main__":
    main()
