"""The headless engine: config, loading, policies, the decode loop, events and stats.

Importing this package never imports Textual (the app sits on top of it). Torch and
transformers load lazily on first use of the names that need them, so `spectui --help`
and the app's first frame stay fast.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from spectui.engine.config import ConfigError, DecodeConfig
from spectui.engine.errors import ModelLoadError, PromptError, SpectuiError
from spectui.engine.policy.records import Policy
from spectui.engine.policy.registry import POLICIES, register_policy

_LAZY = {
    "ModelPair": "spectui.engine.models.loading",
    "load_pair": "spectui.engine.models.loading",
    "SpeculativeDecoder": "spectui.engine.decode",
    "encode_prompt": "spectui.engine.decode",
    "compare_policies": "spectui.engine.compare",
}

__all__ = [
    "POLICIES",
    "ConfigError",
    "DecodeConfig",
    "ModelLoadError",
    "PromptError",
    "Policy",
    "SpectuiError",
    "register_policy",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'spectui.engine' has no attribute {name!r}")
