"""The bundled offline model pair, trained by the project (see MODEL_CARD.md)."""

from __future__ import annotations

from pathlib import Path

MODELS_DIR = Path(__file__).resolve().parent
BUNDLED_DRAFTER = MODELS_DIR / "drafter"
BUNDLED_VERIFIER = MODELS_DIR / "verifier"

# Named presets a user can pass as --pair; "seed" is the reference notebook's pair.
PAIR_PRESETS: dict[str, tuple[str, str]] = {
    "bundled": (str(BUNDLED_DRAFTER), str(BUNDLED_VERIFIER)),
    "seed": ("gpt2", "gpt2-medium"),
}
