"""Step 2 of the bundled-pair recipe: a byte-level BPE tokenizer (vocab 4096).

Trained with Hugging Face ``tokenizers`` on the training split only (GPT-2 style: byte-level
pre-tokenizer without an added prefix space, byte-level decoder, so ``decode`` round-trips any
text including leading spaces and newlines). ``<|endoftext|>`` (id 0) is the only special
token; it serves as bos, eos, unk and pad, and separates documents (chapters) in training.
Saved as a transformers ``GPT2TokenizerFast`` (tokenizer.json + tokenizer_config.json), then
the corpus is encoded to flat uint16 token arrays (``train.bin`` / ``heldout.bin``, each chapter
followed by ``<|endoftext|>``) for ``train.py``.

``--encode-with DIR`` skips training and only encodes the corpus with an existing tokenizer
(e.g. the shipped one, ``spectui/models/verifier``), copying it to ``--out``. Retraining on
the same corpus reproduces the shipped vocabulary and merges exactly (checked 2026-11-29; the
saved JSON differs only in equivalent ``continuing_subword_prefix``/``end_of_word_suffix``
null-vs-empty fields), so either way gives the same token streams.

Usage::

    python scripts/bundled_pair/train_tokenizer.py --corpus .build/bundled/corpus \
        --out .build/bundled/tokenizer
    python scripts/bundled_pair/train_tokenizer.py --encode-with spectui/models/verifier
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
    ap.add_argument(
        "--encode-with",
        type=Path,
        default=None,
        help="encode the corpus with this existing tokenizer directory instead of training one",
    )
    args = ap.parse_args()

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoTokenizer, GPT2TokenizerFast

    if args.encode_with is not None:
        hf = AutoTokenizer.from_pretrained(args.encode_with)
        assert len(hf) == VOCAB_SIZE and hf.convert_tokens_to_ids(EOT) == 0
        args.out.mkdir(parents=True, exist_ok=True)
        hf.save_pretrained(args.out)
        encode_corpus(hf.backend_tokenizer, args.corpus)
        return 0

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

    encode_corpus(tok, args.corpus)
    return 0


def encode_corpus(tok, corpus: Path) -> None:
    """Flat uint16 token streams ``{train,heldout}.bin``, each chapter + ``<|endoftext|>``."""
    for split in ("train", "heldout"):
        texts = read_texts(corpus / f"{split}.jsonl")
        ids: list[int] = []
        for enc in tok.encode_batch(texts):
            ids.extend(enc.ids)
            ids.append(0)
        arr = np.asarray(ids, dtype=np.uint16)
        arr.tofile(corpus / f"{split}.bin")
        chars = sum(len(t) for t in texts)
        print(f"{split}: {len(arr)} tokens ({chars / len(arr):.2f} chars/token)")


if __name__ == "__main__":
    sys.exit(main())
