"""The chat side's browser port: the ChatDriver protocol, its Playwright and in-memory drivers, selector profiles."""
