"""Models behind a server (vLLM's OpenAI-compatible API): where they are, the wire, both seams."""
