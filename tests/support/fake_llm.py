"""The OpenAI-compatible server the tests start: `bridge.mockllm`'s (the demo embeds the same one)."""

from bridge.mockllm import FakeLLM, Outcome, RecordedRequest

__all__ = ["FakeLLM", "Outcome", "RecordedRequest"]
