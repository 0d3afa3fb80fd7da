#!/usr/bin/env bash
# The exact commands behind the figures in benchmarks/README.md. Each writes its JSON to
# benchmarks/results/ and prints the tables. Run on an otherwise idle machine if you can;
# the ratios are taken within one run, so they survive some background load.
set -euo pipefail
cd "$(dirname "$0")/.."
export COLUMNS="${COLUMNS:-110}"

# 1. The tiny bundled pair: 128 new tokens, the seed's 6 prompts x 3 interleaved repeats, k=5,
#    the seed's algorithm on the first prompt, the oracle sweep at 0, 0.5, 0.7, 0.9 and 1.
spectui bench --pair tiny --repeats 3 --save-json benchmarks/results/bundled.json | tee benchmarks/results/bundled.txt

# 2. Random-weight GPT-2 shapes, gpt2 (124M) -> gpt2-medium (355M): ~50x the bundled pair's
#    cost per token on one thread, so 1 prompt, 64 new tokens, 4 repeats, no seed run.
spectui bench --synthetic gpt2 --n-prompts 1 --repeats 4 --max-new-tokens 64 --seed-prompts 0 \
    --save-json benchmarks/results/gpt2.json | tee benchmarks/results/gpt2.txt
