"""Watching a server's own speculation: its per-request counts, read, rebuilt and checked."""
