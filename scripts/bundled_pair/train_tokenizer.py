"""Step 2 of the bundled-pair recipe: a byte-level BPE tokenizer (vocab 4096).

Trained with Hugging Face ``tokenizers`` on the training split only (GPT-2 style: byte-level
pre-tokenizer without an added prefix space, byte-level decoder, so ``decode`` round-trips any
text including leading spaces and newlines). ``<|endoftext|>`` (id 0) is the only special
token; it serves as bos, eos, unk and pad, and separates documents (chapters) in training.
Saved as a transformers ``GPT2TokenizerFast`` (tokenizer.json + tokenizer_config.json), then
the corpus is encoded to flat uint16 token arrays (``train.bin`` / ``heldout.bin``, each chapter
followed by ``<|endoftext|>``) for ``train.py``.

Usage::

    python scripts/bundled_pair/train_tokenizer.py --corpus .build/bundled/corpus \
        --out .build/bundled/tokenizer
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

EOT = "<|endoftext|>"
VOCAB_SIZE = 4096
CONTEXT = 256


def read_texts(path: Path) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpus", type=Path, default=Path(".build/bundled/corpus"))
    ap.add_argument("--out", type=Path, default=Path(".build/bundled/tokenizer"))
    args = ap.parse_args()

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2TokenizerFast

    train_texts = read_texts(args.corpus / "train.jsonl")
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=[EOT],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(train_texts, trainer=trainer)
    assert tok.get_vocab_size() == VOCAB_SIZE, tok.get_vocab_size()
    assert tok.token_to_id(EOT) == 0

    hf = GPT2TokenizerFast(
        tokenizer_object=tok,
        bos_token=EOT,
        eos_token=EOT,
        unk_token=EOT,
        pad_token=EOT,
        model_max_length=CONTEXT,
        add_prefix_space=False,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    hf.save_pretrained(args.out)

    # Sanity: round trips, including a leading space and newlines.
    for s in ["She walked into the", " and then", 'Mr. Darcy said,\n"No."']:
        ids = hf(s)["input_ids"]
        assert hf.decode(ids) == s, (s, hf.decode(ids))
    print(
        "She walked into the ->",
        hf("She walked into the")["input_ids"],
        hf.convert_ids_to_tokens(hf("She walked into the")["input_ids"]),
    )

    for split in ("train", "heldout"):
        texts = read_texts(args.corpus / f"{split}.jsonl")
        ids: list[int] = []
        for enc in tok.encode_batch(texts):
            ids.extend(enc.ids)
            ids.append(0)
        arr = np.asarray(ids, dtype=np.uint16)
        arr.tofile(args.corpus / f"{split}.bin")
        chars = sum(len(t) for t in texts)
        print(f"{split}: {len(arr)} tokens ({chars / len(arr):.2f} chars/token)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
