"""spectui in a browser: textual-serve behind a loopback default, a token and a visit cap."""
