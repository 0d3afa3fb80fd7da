"""Save a random-weight GPT-2 pair to disk, for `spectui bench|run --drafter DIR --verifier DIR`.

`spectui bench --synthetic NAME` builds the same pair in memory; saving it lets the app and
`spectui run` use it too, and skips the few seconds of initialisation on later runs.

    python benchmarks/make_synthetic_pair.py gpt2 /tmp/gpt2-pair
    spectui bench --drafter /tmp/gpt2-pair/drafter --verifier /tmp/gpt2-pair/verifier
"""

from __future__ import annotations

import argparse
from pathlib import Path

from transformers.utils import logging as transformers_logging

from spectui.bench.synthetic import build_synthetic_pair, save_synthetic_pair
from spectui.bench.synthetic_pairs import SYNTHETIC_PAIRS


def main() -> None:
    """Build the named pair and write it under the output directory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name", choices=sorted(SYNTHETIC_PAIRS))
    parser.add_argument("directory", type=Path)
    parser.add_argument("--drafter", choices=("own", "perturbed"), default="own")
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    transformers_logging.disable_progress_bar()
    pair = build_synthetic_pair(
        args.name, drafter_kind=args.drafter, noise=args.noise, seed=args.seed
    )
    drafter, verifier = save_synthetic_pair(pair, args.directory)
    print(f"drafter  {drafter}\nverifier {verifier}")


if __name__ == "__main__":
    main()
