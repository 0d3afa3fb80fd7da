"""Config validation, loading errors, and the engine's independence from Textual."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import TinyPair, build_model, build_tokenizer

from spectui.engine import ConfigError, DecodeConfig, ModelLoadError, load_pair

BAD_VALUES = [
    ("draft_span", -1, "draft_span must be an integer 1..64"),
    ("draft_span", 0, "draft_span must be an integer 1..64"),
    ("draft_span", 65, "draft_span must be an integer 1..64"),
    ("draft_span", 2.5, "draft_span must be an integer"),
    ("p_thresh", 2.0, "p_thresh must be a number 0..1"),
    ("p_thresh", -0.1, "p_thresh must be a number 0..1"),
    ("p_thresh", math.nan, "p_thresh must be a number 0..1"),
    ("topk_gate", 0, "topk_gate must be an integer ≥ 1"),
    ("margin_gate", math.nan, "margin_gate must be a number 0..1"),
    ("margin_gate", 1.5, "margin_gate must be a number 0..1"),
    ("max_accept", -1, "max_accept must be an integer ≥ 0"),
    ("seed", -3, "seed must be an integer 0..9223372036854775807, got -3"),
    ("seed", 2**63, "seed must be an integer 0..9223372036854775807"),
    ("timeout", 0, "timeout must be a number ≥ 0.001, got 0"),
    ("policy", "fast", "policy must be one of greedy, soft"),
    ("dtype", "float8", "dtype must be one of"),
    ("device", "tpu", "device must be auto, cpu, cuda[:N] or mps"),
    ("threads", 0, "threads must be an integer 1..1024"),
    ("max_new_tokens", 0, "max_new_tokens must be an integer"),
    ("drafter", " ", "drafter must name a model"),
]


def test_defaults_are_the_seeds() -> None:
    config = DecodeConfig()
    assert (config.draft_span, config.p_thresh, config.topk_gate) == (5, 0.05, 5)
    assert (config.margin_gate, config.max_accept, config.seed) == (0.20, 5, 42)
    assert config.sample_draft is False and config.bonus is False
    assert config.max_new_tokens is None and config.device == "auto"


@pytest.mark.parametrize(("name", "value", "message"), BAD_VALUES)
def test_bad_values_are_refused_with_the_field_and_range(name, value, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        DecodeConfig(**{name: value})


def test_retune_validates_and_refuses_model_changes() -> None:
    config = DecodeConfig()
    assert config.retuned(policy="greedy", p_thresh=0.1).policy_label == "greedy-exact"
    # Between-round changes come from the app: a refusal names the setting as the app shows it.
    with pytest.raises(ConfigError, match="p threshold must be a number 0..1, got 2"):
        config.retuned(p_thresh=2)
    with pytest.raises(ConfigError, match="draft span k must be an integer 1..64, got 0"):
        config.retuned(draft_span=0)
    with pytest.raises(ConfigError, match="verifier cannot change during a decode"):
        config.retuned(verifier="gpt2")


def test_config_is_frozen() -> None:
    with pytest.raises(AttributeError):
        DecodeConfig().draft_span = 3  # type: ignore[misc]


def test_a_model_that_cannot_score_every_token_is_refused(
    tiny_pair: TinyPair, tmp_path: Path
) -> None:
    tokenizer = build_tokenizer(tmp_path / "small")
    build_model(tmp_path / "small", len(tokenizer) - 20, n_layer=1, n_embd=16, seed=3)
    config = DecodeConfig(drafter=str(tmp_path / "small"), verifier=tiny_pair.verifier)
    with pytest.raises(ModelLoadError, match="scores 300 tokens but the tokenizer has 320"):
        load_pair(config)


def test_same_size_but_different_tokenizers_are_refused(
    tiny_pair: TinyPair, tmp_path: Path
) -> None:
    import tiny_models
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    other = Tokenizer(models.BPE())
    other.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(
        vocab_size=tiny_models.VOCAB_SIZE,
        special_tokens=[tiny_models.EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    other.train_from_iterator(["zebra quartz jumps over vexing fjords"] * 50, trainer=trainer)
    PreTrainedTokenizerFast(tokenizer_object=other, eos_token=tiny_models.EOS).save_pretrained(
        tmp_path / "other"
    )
    verifier_size = load_pair(DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier))
    build_model(tmp_path / "other", verifier_size.verifier.config.vocab_size, 1, 16, seed=4)
    config = DecodeConfig(drafter=str(tmp_path / "other"), verifier=tiny_pair.verifier)
    with pytest.raises(ModelLoadError, match="different vocabularies"):
        load_pair(config)


def test_missing_directory_is_named(tiny_pair: TinyPair, tmp_path: Path) -> None:
    config = DecodeConfig(drafter=str(tmp_path / "nope"), verifier=tiny_pair.verifier)
    with pytest.raises(ModelLoadError, match="does not exist: there is no directory"):
        load_pair(config)


def test_directory_that_is_not_a_model(tiny_pair: TinyPair, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a model")
    config = DecodeConfig(drafter=tiny_pair.drafter, verifier=str(tmp_path))
    with pytest.raises(ModelLoadError, match="Could not load the verifier from the directory"):
        load_pair(config)


def test_unavailable_hub_id_offline(tiny_pair: TinyPair, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    config = DecodeConfig(drafter="spectui-test/no-such-model", verifier=tiny_pair.verifier)
    with pytest.raises(ModelLoadError, match="is not available offline") as raised:
        load_pair(config)
    assert "--drafter /path/to/dir" in str(raised.value)


def test_cli_reports_a_missing_model_without_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spectui.cli", "run", "--drafter", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "flag", [["--draft-span", "-1"], ["--p-thresh", "2"], ["--margin-gate", "nan"]]
)
def test_cli_refuses_out_of_range_options(flag: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "spectui.cli", "run", *flag],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "must be" in result.stderr and "Traceback" not in result.stderr


def test_engine_never_imports_textual() -> None:
    code = (
        "import sys, spectui.engine, spectui.engine.decode, spectui.engine.models.loading, "
        "spectui.commands.run; sys.exit(3 if 'textual' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_help_and_version_are_fast_and_torch_free() -> None:
    code = (
        "import sys; from spectui.cli import build_parser; build_parser(); "
        "sys.exit(3 if 'torch' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
    version = subprocess.run(
        [sys.executable, "-m", "spectui.cli", "--version"], capture_output=True, text=True
    )
    assert version.stdout.startswith("spectui ")
