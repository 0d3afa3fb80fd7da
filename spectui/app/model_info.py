"""What an engineer wants to know of the models on screen: each one's name and size.

Kept apart from `sessions.models_summary` (the border's device and dtype line): this is the
header's "drafter 1.2M → verifier 5.9M". A served model has no parameters here: name only.
"""

from __future__ import annotations

import re
from typing import Any

from spectui.app.sessions import model_label

# Suffixes for parameter counts, largest first.
UNITS = ((1e9, "B"), (1e6, "M"), (1e3, "K"))
ARROW, NOTICE = " → ", " · "
SIZE = re.compile(r"^(?P<name>.*) (?P<size>\d+(?:\.\d)?[KMB]?)$")  # "name 5.9M", as written below


def parameter_count(model: Any) -> int | None:
    """A loaded model's parameters (each tensor once, prepacked weights included); None for a
    served one."""
    if model is None:
        return None
    from spectui.engine.models.kernels import parameter_count as loaded_count

    return loaded_count(model)


def short_count(count: int) -> str:
    """A parameter count in three significant figures at most: 850, 1.2K, 5.9M, 124M, 1.1B."""
    for scale, suffix in UNITS:
        if count >= scale:
            value = count / scale
            return f"{value:.1f}{suffix}" if value < 100 else f"{value:.0f}{suffix}"
    return str(count)


def model_words(name: str, model: Any) -> str:
    """ "name 5.9M" for a loaded model, "name" for a served one."""
    count = parameter_count(model)
    label = model_label(name)
    return label if count is None else f"{label} {short_count(count)}"


def model_sizes(pair: Any) -> str:
    """The pair as "drafter-name 1.2M → verifier-name 5.9M" (a ModelPair; "" for None)."""
    if pair is None:
        return ""
    drafter = model_words(pair.drafter_id, pair.drafter)
    return f"{drafter} → {model_words(pair.verifier_id, pair.verifier)}"


def shorter_forms(models: str) -> list[str]:
    """`models` (model_sizes' line, a notice after it) and the shorter forms a narrow header
    falls back to, in order: each model's name without its file suffix, its role for its
    name ("drafter 11.8M → verifier 135M"), then the sizes alone ("11.8M → 135M"). A served
    model, with no size, keeps its name."""
    pair, separator, notice = models.partition(NOTICE)
    roles = pair.split(ARROW)
    forms = [models]
    for shorten in (_without_suffix, _role_and_size, _size_only):
        shortened = ARROW.join(shorten(words, i) for i, words in enumerate(roles))
        shortened += separator + notice
        if shortened != forms[-1]:
            forms.append(shortened)
    return forms


def _without_suffix(words: str, _: int) -> str:
    match = SIZE.match(words)
    if match is None:
        return words
    return f"{_file_stem(match['name'])} {match['size']}"


def _role_and_size(words: str, index: int) -> str:
    match = SIZE.match(words)
    return words if match is None else f"{('drafter', 'verifier')[index]} {match['size']}"


def _size_only(words: str, _: int) -> str:
    match = SIZE.match(words)
    return words if match is None else match["size"]


INSPECT = "←/→ inspect"


def stream_subtitle_forms(summary: str) -> tuple[str, ...]:
    """The stream's border, longest first, for its painter to take the first that fits:
    the inspect hint and the models line (`sessions.models_summary`), its names without file
    suffixes, then without the hint, then the device and precision alone."""
    if not summary:
        return ("",)
    names, separator, rest = summary.partition(NOTICE)
    short = ARROW.join(_file_stem(name) for name in names.split(ARROW)) + separator + rest
    forms = [f"{INSPECT} · {summary}", f"{INSPECT} · {short}", short]
    if rest:
        forms += [f"{INSPECT} · {rest}", rest]
    return tuple(dict.fromkeys(forms))


def _file_stem(name: str) -> str:
    return name.removesuffix(".gguf").removesuffix(".safetensors")
