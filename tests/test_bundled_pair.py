"""The pair that ships inside the package, through the same loading code as any HF model.

These load the real bundled weights offline (no hub), so they also guard the shipped files:
their format and size, that greedy-exact reproduces the verifier's own greedy text, that the
drafter agrees with the verifier often but not always, and that greedy text does not loop;
and that the model card's figures (`scripts/bundled_pair/evaluate.py`) are the engine's.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from reference import verifier_greedy

from spectui.cli import SEED_PROMPTS, main
from spectui.engine import DecodeConfig, SpeculativeDecoder, load_pair
from spectui.engine.events import RoundFinished
from spectui.engine.models.loading import ModelPair
from spectui.models import BUNDLED_DRAFTER, BUNDLED_VERIFIER

BUNDLE_LIMIT_BYTES = 15_000_000  # the budget for every bundled file together
EVALUATE = Path(__file__).resolve().parents[1] / "scripts" / "bundled_pair" / "evaluate.py"


@pytest.fixture(scope="module")
def bundled() -> ModelPair:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HF_HUB_OFFLINE", "1")  # a fresh machine with no network
        return load_pair(DecodeConfig(device="cpu"))


def repeated_4grams(tokens: list[int]) -> tuple[int, int]:
    seen: set[tuple[int, ...]] = set()
    repeats = 0
    for i in range(len(tokens) - 3):
        gram = tuple(tokens[i : i + 4])
        repeats += gram in seen
        seen.add(gram)
    return repeats, max(0, len(tokens) - 3)


def test_defaults_name_the_bundled_directories() -> None:
    config = DecodeConfig()
    assert Path(config.drafter) == BUNDLED_DRAFTER
    assert Path(config.verifier) == BUNDLED_VERIFIER


def test_bundled_files_are_fp16_safetensors_within_budget() -> None:
    from safetensors import safe_open

    models_dir = BUNDLED_VERIFIER.parent
    # The tiny pair's own files (the real pair's drafter has its budget in test_smollm2_pair).
    tiny = [path for d in (BUNDLED_DRAFTER, BUNDLED_VERIFIER) for path in d.rglob("*")]
    total = sum(path.stat().st_size for path in tiny if path.is_file())
    assert total <= BUNDLE_LIMIT_BYTES
    for model_dir in (BUNDLED_DRAFTER, BUNDLED_VERIFIER):
        with safe_open(str(model_dir / "model.safetensors"), framework="pt") as weights:
            dtypes = {weights.get_tensor(name).dtype for name in weights.keys()}  # noqa: SIM118
        assert dtypes == {torch.float16}
        assert (model_dir / "tokenizer.json").is_file()
    assert (models_dir / "MODEL_CARD.md").is_file()


def test_loads_offline_as_a_gpt2_pair_sharing_one_tokenizer(bundled: ModelPair) -> None:
    assert type(bundled.verifier).__name__ == type(bundled.drafter).__name__ == "GPT2LMHeadModel"
    assert bundled.verifier.config.n_layer > bundled.drafter.config.n_layer
    assert bundled.dtype == torch.float32  # fp16 weights compute in fp32 on a CPU
    assert bundled.context_length == 256
    text = 'Mr. Darcy said, "Indeed!" — 1811'
    assert bundled.tokenizer.decode(bundled.tokenizer.encode(text)) == text


def test_greedy_exact_reproduces_the_verifiers_greedy_text(bundled: ModelPair) -> None:
    config = DecodeConfig(policy="greedy", max_new_tokens=40, device="cpu")
    for prompt in SEED_PROMPTS[:3]:
        decoder = SpeculativeDecoder(bundled, config, prompt)
        finished = decoder.run()
        assert list(finished.output_ids) == verifier_greedy(bundled, decoder.prompt_ids, 40)


def test_drafter_agrees_often_but_not_always(bundled: ModelPair) -> None:
    drafted = accepted = 0
    config = DecodeConfig(policy="greedy", max_new_tokens=64, device="cpu")
    for prompt in SEED_PROMPTS:
        stats = SpeculativeDecoder(bundled, config, prompt).run().stats
        drafted, accepted = drafted + stats.drafted, accepted + stats.accepted
    # The shipped pair: 312/554 = 0.56 here. Near 0 or 1 the policies would have nothing to decide.
    assert 0.35 < accepted / drafted < 0.9


def test_greedy_continuations_of_the_seed_prompts_do_not_loop(bundled: ModelPair) -> None:
    repeats = total = 0
    for prompt in SEED_PROMPTS:
        prompt_ids = tuple(bundled.tokenizer.encode(prompt))
        r, t = repeated_4grams(verifier_greedy(bundled, prompt_ids, 64))
        repeats, total = repeats + r, total + t
    assert repeats / total < 0.20  # the bar; the shipped pair measures 3.3%


def test_spectui_run_with_no_model_options_uses_the_bundled_pair(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    status = main(["run", "--json", "--policy", "greedy", "--max-new-tokens", "12"])
    out = capsys.readouterr().out
    assert status == 0
    done = [json.loads(line) for line in out.splitlines() if '"event": "done"' in line]
    assert [line["prompt"] for line in done] == list(SEED_PROMPTS)
    assert all(len(line["output_ids"]) == 12 and line["text"].strip() for line in done)


@pytest.fixture(scope="module")
def evaluate() -> ModuleType:
    """The model card's measuring script, imported as a module (not run)."""
    spec = importlib.util.spec_from_file_location("bundled_pair_evaluate", EVALUATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up while it runs
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("policy", ["greedy", "soft"])
def test_the_model_cards_acceptance_is_the_engines_own(
    bundled: ModelPair, evaluate: ModuleType, policy: str
) -> None:
    base = evaluate.eval_config(BUNDLED_VERIFIER.parent, threads=1)
    config = evaluate.decode_config(base, policy, 48)
    prompts = [bundled.tokenizer.encode(prompt) for prompt in SEED_PROMPTS[:2]]
    figures = evaluate.summarise(evaluate.speculative(bundled, config, prompts))

    # The same decodes by the engine, counted here from its events.
    drafted = accepted = rounds = 0
    failed = dict.fromkeys(("p_thresh", "topk", "margin", "max_accept"), 0)
    for prompt in prompts:
        for event in SpeculativeDecoder(bundled, config, prompt).events():
            if isinstance(event, RoundFinished):
                drafted, accepted = drafted + len(event.draft_ids), accepted + event.n_accepted
                rounds += 1
                for check in event.checks:
                    for gate in failed:
                        failed[gate] += not check.gates[gate]
    assert 0 < accepted <= drafted
    assert figures["acceptance"] == accepted / drafted
    assert figures["accepted_per_round"] == accepted / rounds
    assert figures["gate_fails"] == failed
    # The script's settings: its k, 48 new tokens, no bonus; every threshold the engine's own.
    defaults = DecodeConfig()
    assert (config.policy, config.draft_span, config.max_new_tokens, config.bonus) == (
        policy,
        5,
        48,
        False,
    )
    soft = ("p_thresh", "topk_gate", "margin_gate", "max_accept")
    assert [getattr(config, name) for name in soft] == [getattr(defaults, name) for name in soft]
