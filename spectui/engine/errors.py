"""Errors the engine reports to people: each message says what is wrong and what to do."""

from __future__ import annotations


class SpectuiError(Exception):
    """An error with a message fit to show a user as it is (no traceback needed)."""


class ModelLoadError(SpectuiError):
    """A model or tokenizer could not be loaded, or the pair does not fit together."""


class PromptError(SpectuiError):
    """A prompt cannot be decoded (empty with no BOS token, or longer than the context)."""


class ChatTemplateError(PromptError):
    """--chat with a tokenizer that has no chat template: only other models or dropping
    --chat mend it, so no key of the running app can (it offers q alone)."""
