"""A drafter over part of the verifier's vocabulary (FR-Spec; EAGLE-3's draft vocabulary).

A small drafter's cost on a CPU is mostly its LM head: SmolLM2's 49152 × 576 alone is a fifth
of the verifier's work per token. A drafter trained over the V tokens the verifier writes most
(plus one "other" row standing for every token outside them, as an input only) reads and
writes its own row numbers; `DraftVocabulary` maps the verifier's ids in and its logits back
out, every token outside the V at −∞, so to the decode loop it is a drafter over the whole
vocabulary that never proposes a rare token. The file beside the drafter's weights names the
V ids and the tokenizer they belong to, which is checked when the pair loads.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from spectui.engine.errors import ModelLoadError

DRAFT_VOCABULARY_FILE = "draft_vocabulary.json"


@dataclass(frozen=True)
class DraftVocabulary:
    """The verifier ids of a drafter's rows, and the way back."""

    verifier_ids: torch.Tensor  # [V]: the verifier's id of each drafter row
    to_draft: torch.Tensor  # [full]: each verifier id's drafter row; V ("other") outside
    full_size: int  # the verifier tokenizer's ids

    @classmethod
    def of(cls, verifier_ids: list[int], full_size: int) -> DraftVocabulary:
        """The vocabulary of these ids within a tokenizer of `full_size` ids."""
        ids = torch.tensor(verifier_ids, dtype=torch.long)
        to_draft = torch.full((full_size,), len(verifier_ids), dtype=torch.long)
        to_draft[ids] = torch.arange(len(verifier_ids))
        return cls(ids, to_draft, full_size)

    @property
    def size(self) -> int:
        """V: how many of the verifier's tokens the drafter can propose."""
        return int(self.verifier_ids.shape[0])

    def drafter_ids(self, input_ids: torch.Tensor) -> torch.Tensor:
        """Verifier ids as the drafter's rows (outside the V: the "other" row)."""
        return self.to_draft.to(input_ids.device)[input_ids]

    def full_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """Drafter logits `[n, ≥V]` as logits over the verifier's ids `[n, full]`, −∞ outside."""
        full = logits.new_full((logits.shape[0], self.full_size), float("-inf"))
        full[:, self.verifier_ids.to(logits.device)] = logits[:, : self.size]
        return full


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """A short hash of a tokenizer's token → id map: what a draft vocabulary's ids mean."""
    items = sorted(tokenizer.get_vocab().items())
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode()).hexdigest()[:16]


def write_draft_vocabulary(directory: Path, verifier_ids: list[int], tokenizer: Any) -> None:
    """Save the vocabulary beside a drafter's weights."""
    record = {
        "verifier_ids": list(verifier_ids),
        "tokenizer_size": len(tokenizer),
        "tokenizer_fingerprint": tokenizer_fingerprint(tokenizer),
    }
    (directory / DRAFT_VOCABULARY_FILE).write_text(json.dumps(record) + "\n")


def read_draft_vocabulary(name: str, tokenizer: Any) -> DraftVocabulary | None:
    """The draft vocabulary shipped in the drafter directory `name`, checked against the
    verifier's `tokenizer`; None for a drafter over the whole vocabulary."""
    path = Path(name).expanduser() / DRAFT_VOCABULARY_FILE
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        ids = [int(i) for i in record["verifier_ids"]]
        fingerprint = str(record["tokenizer_fingerprint"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ModelLoadError(
            f"The drafter {name!r} has a damaged {DRAFT_VOCABULARY_FILE}: {error}. Restore the "
            "file from the drafter's distribution."
        ) from None
    if fingerprint != tokenizer_fingerprint(tokenizer) or max(ids) >= len(tokenizer):
        raise ModelLoadError(
            f"The drafter {name!r} drafts over part of another tokenizer's vocabulary than the "
            "verifier's: its token ids would mean other tokens. Pair it with the verifier it "
            "was trained for (its model card names it)."
        )
    return DraftVocabulary.of(ids, len(tokenizer))
