"""A local imitation of grok.com's chat UI with a scripted (or OpenAI-backed) assistant, for tests and the demo."""
