"""Whether a drafter and a verifier can share one tokenizer's token ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import AutoTokenizer, PreTrainedModel

from spectui.engine.config import DecodeConfig
from spectui.engine.errors import ModelLoadError
from spectui.engine.models.draft_vocabulary import DraftVocabulary

# Any of these in a directory means it ships its own tokenizer.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "tokenizer.model")


def _vocab_size(model: PreTrainedModel) -> int:
    from spectui.engine.models.kernels import output_rows

    return output_rows(model)


def check_vocabularies(
    config: DecodeConfig,
    tokenizer: Any,
    drafter: PreTrainedModel | None,
    verifier: PreTrainedModel | None,
    draft_vocabulary: DraftVocabulary | None = None,
) -> None:
    """Both models must score every token id of one shared tokenizer.

    Embedding tables padded past the tokenizer are fine (Qwen2.5-0.5B and -7B have different
    row counts and one tokenizer): the logits are cut to the tokenizer's ids. A drafter with a
    draft vocabulary scores its part of the ids (checked when the vocabulary was read).
    """
    n_tokens = len(tokenizer)
    for role, name, model in (
        ("drafter", config.drafter, None if draft_vocabulary else drafter),
        ("verifier", config.verifier, verifier),
    ):
        if model is not None and _vocab_size(model) < n_tokens:
            raise ModelLoadError(
                f"The {role} {name!r} scores {_vocab_size(model)} tokens but the tokenizer has "
                f"{n_tokens}: the {role} does not belong to this tokenizer. Pick a pair of one "
                "family (e.g. gpt2 with gpt2-medium)."
            )
    if drafter is None or config.drafter_url is not None:
        return  # a served drafter's tokenizer was checked against the server's already
    drafter_tokenizer = _optional_tokenizer(config.drafter)
    if drafter_tokenizer is not None and drafter_tokenizer.get_vocab() != tokenizer.get_vocab():
        raise ModelLoadError(
            f"The drafter {config.drafter!r} and the verifier {config.verifier!r} have "
            "tokenizers with different vocabularies: token ids would mean different things to "
            "each. Pick a pair that shares one tokenizer."
        )


def _optional_tokenizer(name: str) -> Any | None:
    """The drafter's own tokenizer where it ships one; None where it has none."""
    try:
        directory = Path(name).expanduser()
        if directory.is_dir():
            # Without tokenizer files transformers builds an empty tokenizer from config.json
            # alone, which would read as a different vocabulary: a model-only directory has none.
            if not any((directory / file).exists() for file in TOKENIZER_FILES):
                return None
            return AutoTokenizer.from_pretrained(str(directory))
        return AutoTokenizer.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError, KeyError):
        return None
