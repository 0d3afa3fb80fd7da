"""spectui: watch and step through speculative decoding in a terminal."""

__version__ = "0.1.0"
