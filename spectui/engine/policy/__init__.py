"""Acceptance policies: the records they are made of, the built-in ones, the registry."""
