"""Bad input to the engine and the headless CLI: models, prompts, lengths, EOS, parameters.

Each bad input must give a clear message naming the problem and what to do, an exit status
other than 0 and no traceback from the CLI, and never a crash or an index past the context.
(Cases already covered elsewhere are not repeated: a missing directory, a directory that is
not a model and an offline hub id in test_engine_config.py, a too-long prompt in the CLI in
test_cli_run.py.)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from tiny_models import TinyPair, build_model, build_tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer

from spectui.cli import main as cli_main
from spectui.engine import (
    DecodeConfig,
    ModelLoadError,
    PromptError,
    SpeculativeDecoder,
    load_pair,
)
from spectui.engine.events import FinishReason, RoundDrafted, RoundFinished
from spectui.engine.models import hub, loading
from spectui.engine.models.cache import CachedModel
from spectui.engine.models.loading import ModelPair
from spectui.engine.text import StreamText

HUB_ID = "spectui-test/no-such-model"


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run `spectui` in-process: (exit status, stdout, stderr); usage errors exit too."""
    try:
        status = cli_main(list(argv))
    except SystemExit as exit_:
        status = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def pair_args(pair: TinyPair) -> list[str]:
    return ["--drafter", pair.drafter, "--verifier", pair.verifier]


# --- models ------------------------------------------------------------------------------------


def _fake_hub(monkeypatch: pytest.MonkeyPatch, online_error: BaseException) -> None:
    """A reachable hub that answers every request for HUB_ID with `online_error`."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub, "hub_reachable", lambda timeout=3.0: True)
    for loader in (AutoTokenizer, AutoModelForCausalLM):
        real = loader.from_pretrained

        def from_pretrained(name: str, *args: Any, _real: Any = real, **kwargs: Any) -> Any:
            if name != HUB_ID:
                return _real(name, *args, **kwargs)
            if kwargs.get("local_files_only"):  # not in the cache: what transformers raises
                raise OSError(f"We couldn't connect to 'https://huggingface.co' to load {name}.")
            raise online_error

        monkeypatch.setattr(loader, "from_pretrained", from_pretrained)


def _repository_not_found() -> BaseException:
    """The error transformers raises for an unknown hub id, chained as it chains it."""
    import httpx2
    from huggingface_hub.errors import RepositoryNotFoundError

    request = httpx2.Request("GET", f"https://huggingface.co/api/models/{HUB_ID}")
    cause = RepositoryNotFoundError(
        "404 Client Error. Repository Not Found", response=httpx2.Response(404, request=request)
    )
    error = OSError(
        f"{HUB_ID} is not a local folder and is not a valid model identifier listed on "
        "'https://huggingface.co/models'\nIf this is a private repository, make sure to pass a "
        "token having permission to this repo"
    )
    error.__cause__ = cause
    return error


@pytest.mark.parametrize("raw", [False, True], ids=["as-transformers-raises", "raw-hub-error"])
def test_unknown_hub_id_online(
    tiny_pair: TinyPair,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    raw: bool,
) -> None:
    error = _repository_not_found()
    _fake_hub(monkeypatch, error.__cause__ if raw else error)  # type: ignore[arg-type]
    config = DecodeConfig(drafter=HUB_ID, verifier=tiny_pair.verifier)
    with pytest.raises(ModelLoadError) as raised:
        load_pair(config)
    message = str(raised.value)
    assert f"Could not load the drafter {HUB_ID!r} from the Hugging Face hub" in message
    assert "huggingface.co/models" in message and "--drafter a local model directory" in message
    status, _, err = cli(capsys, "run", "--drafter", HUB_ID, "--verifier", tiny_pair.verifier)
    assert status == 2 and "from the Hugging Face hub" in err and "Traceback" not in err


def test_a_download_that_breaks_off(
    tiny_pair: TinyPair, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx2

    _fake_hub(monkeypatch, httpx2.ConnectError("connection reset by peer"))
    status, _, err = cli(capsys, "run", "--verifier", HUB_ID, "--drafter", tiny_pair.drafter)
    assert status == 2 and "Traceback" not in err
    assert f"Downloading the verifier {HUB_ID!r} from the Hugging Face hub failed" in err
    assert "connection reset by peer" in err and "Check the network" in err


@pytest.mark.parametrize(
    "error",
    [
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB"),
        RuntimeError(
            "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: not enough memory: "
            "you tried to allocate 40000000000 bytes."
        ),
        MemoryError(),
    ],
    ids=["cuda-oom", "cpu-allocator", "MemoryError"],
)
def test_a_model_too_large_for_memory(
    tiny_pair: TinyPair,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: BaseException,
) -> None:
    def from_pretrained(*args: Any, **kwargs: Any) -> Any:
        raise error

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", from_pretrained)
    with pytest.raises(ModelLoadError) as raised:
        load_pair(DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier))
    message = str(raised.value)
    assert message.startswith(f"Not enough memory to load the drafter {tiny_pair.drafter!r}")
    assert "--dtype float16 or bfloat16" in message and "smaller model" in message
    status, _, err = cli(capsys, "run", *pair_args(tiny_pair))
    assert status == 2 and "Not enough memory" in err and "Traceback" not in err


def test_out_of_memory_moving_to_the_device(
    tiny_pair: TinyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    def to(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(torch.nn.Module, "to", to)
    with pytest.raises(ModelLoadError, match=r"Not enough memory to load the drafter .*parameters"):
        load_pair(DecodeConfig(drafter=tiny_pair.drafter, verifier=tiny_pair.verifier))


def test_cli_subprocess_bad_models_exit_2_without_traceback(
    tiny_pair: TinyPair, tmp_path: Path
) -> None:
    """The real command, two bad pairs at once (each process imports torch: run them together)."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "README.md").write_text("not a model")
    tokenizer = build_tokenizer(tmp_path / "small")
    build_model(tmp_path / "small", len(tokenizer) - 20, n_layer=1, n_embd=16, seed=3)
    cases = {
        "not a model": (["--verifier", str(tmp_path / "empty")], "Could not load the verifier"),
        "vocab mismatch": (["--drafter", str(tmp_path / "small")], "scores 300 tokens"),
    }
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "spectui.cli", "run", *pair_args(tiny_pair), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (args, _) in cases.items()
    }
    for name, process in processes.items():
        _, err = process.communicate(timeout=180)
        assert process.returncode == 2, (name, err)
        assert cases[name][1] in err and "Traceback" not in err, (name, err)


# --- parameters --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flag", "expected"),
    [
        (["--topk-gate", "0"], "--topk-gate must be an integer ≥ 1, got 0"),
        (["--max-accept", "-1"], "--max-accept must be an integer ≥ 0, got -1"),
        (["--margin-gate", "inf"], "--margin-gate must be a number 0..1, got inf"),
        (["--draft-span", "65"], "--draft-span must be an integer 1..64, got 65"),
        (["--draft-span", "abc"], "invalid int value: 'abc'"),
        (["--p-thresh", "high"], "invalid float value: 'high'"),
        (["--threads", "0"], "--threads must be an integer 1..1024"),
    ],
)
def test_cli_refuses_malformed_options_before_loading(
    flag: list[str],
    expected: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    def load_pair(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a refused option must stop before any model loads")

    monkeypatch.setattr(loading, "load_pair", load_pair)
    status, out, err = cli(capsys, "run", *flag)
    assert status == 2 and expected in err and "Traceback" not in err and out == ""


# --- prompts -----------------------------------------------------------------------------------

UNUSUAL_PROMPTS = {
    "empty": "",
    "whitespace": "   \t ",
    "non-ascii": "Ça va? Grüße, naïve façade — ½ × π",
    "emoji": "She walked 🙂🚀 into the 👩‍👩‍👧 room",
    "cjk": "日本語のテキスト",
}


@pytest.mark.parametrize("prompt", list(UNUSUAL_PROMPTS.values()), ids=list(UNUSUAL_PROMPTS))
def test_unusual_prompts_decode_and_their_text_reads_back(
    tiny_loaded: ModelPair, prompt: str
) -> None:
    config = DecodeConfig(
        drafter=tiny_loaded.drafter_id, verifier=tiny_loaded.verifier_id, max_new_tokens=20
    )
    decoder = SpeculativeDecoder(tiny_loaded, config, prompt)
    if not prompt:
        assert decoder.prompt_ids == (tiny_loaded.tokenizer.bos_token_id,)
    else:
        assert tiny_loaded.text(decoder.prompt_ids) == prompt  # byte-level BPE is lossless
    done = decoder.run()
    assert done.reason in (FinishReason.MAX_TOKENS, FinishReason.EOS)
    tokenizer = tiny_loaded.tokenizer
    texts = StreamText(lambda ids: tokenizer.decode(list(ids), skip_special_tokens=False))
    streamed = "".join(texts.add(token) for token in done.output_ids)
    full = tokenizer.decode(list(done.output_ids), skip_special_tokens=False)
    assert streamed == full or (full.endswith("\ufffd") and full.startswith(streamed))


def test_stream_text_keeps_characters_split_over_tokens_whole(tiny_loaded: ModelPair) -> None:
    tokenizer = tiny_loaded.tokenizer
    text = "héllo 🙂 naïve 日本 👩‍👩‍👧!"
    ids = tokenizer(text).input_ids
    one_by_one = [tokenizer.decode([token]) for token in ids]
    assert "\ufffd" in "".join(one_by_one), "the emoji is split over byte tokens"
    texts = StreamText(lambda part: tokenizer.decode(list(part)))
    pieces = [texts.add(token) for token in ids]
    assert "".join(pieces) == text
    assert not any("\ufffd" in piece for piece in pieces)
    assert "🙂" in pieces and "本" in pieces
    # A rewound stream (a token index seen before) forgets what came after it.
    assert texts.add(ids[0], index=0) == "h" and texts.shown == "h"
    assert texts.add(ids[1], index=1) == "" and texts.add(ids[2], index=2) == "é"


def test_prompt_longer_than_the_context(tiny_loaded: ModelPair) -> None:
    config = DecodeConfig(drafter=tiny_loaded.drafter_id, verifier=tiny_loaded.verifier_id)
    with pytest.raises(PromptError) as raised:
        SpeculativeDecoder(tiny_loaded, config, "word " * 100)
    message = str(raised.value)
    assert "the models attend over at most 64" in message and "shorten it to 63" in message
    with pytest.raises(PromptError, match="attend over at most 64"):
        SpeculativeDecoder(tiny_loaded, config, list(range(64)))  # exactly the context: no room


# --- lengths -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def short_context_pair(tmp_path_factory: pytest.TempPathFactory) -> ModelPair:
    """A pair whose drafter sees 12 positions and verifier 16: the limit is the smaller.

    The drafter's directory holds only the model (no tokenizer files), as people often save one.
    """
    root = tmp_path_factory.mktemp("short-context")
    tokenizer = build_tokenizer(root / "verifier")
    build_model(root / "verifier", len(tokenizer), 2, 32, seed=5, n_positions=16)
    build_model(root / "drafter", len(tokenizer), 2, 32, seed=6, n_positions=12)
    return load_pair(DecodeConfig(drafter=str(root / "drafter"), verifier=str(root / "verifier")))


@pytest.mark.parametrize("policy", ["greedy", "soft", "sample"])
@pytest.mark.parametrize("bonus", [False, True])
def test_decode_to_the_context_limit_shrinks_the_draft_span(
    short_context_pair: ModelPair,
    monkeypatch: pytest.MonkeyPatch,
    policy: str,
    bonus: bool,
) -> None:
    pair = short_context_pair
    assert pair.context_length == 12
    limits = {id(pair.drafter): 12, id(pair.verifier): 16}
    real_forward = CachedModel.forward

    def forward(self: CachedModel, token_ids: list[int], n_logits: int) -> torch.Tensor:
        assert self.cached_length + len(token_ids) <= limits[id(self.model)], "past the context"
        return real_forward(self, token_ids, n_logits)

    monkeypatch.setattr(CachedModel, "forward", forward)
    config = DecodeConfig(
        drafter=pair.drafter_id,
        verifier=pair.verifier_id,
        policy=policy,  # type: ignore[arg-type]
        draft_span=5,
        bonus=bonus,
        max_new_tokens=100,
        stop_at_eos=False,
    )
    decoder = SpeculativeDecoder(pair, config, "She walked")
    length = len(decoder.prompt_ids)
    spans = []
    for event in decoder.events():
        if isinstance(event, RoundDrafted):
            spans.append(len(event.draft_ids))
            assert len(event.draft_ids) <= min(5, pair.context_length - length)
        if isinstance(event, RoundFinished):
            length += len(event.appended_ids)
            assert length <= pair.context_length
    assert decoder.tally.snapshot().rounds == len(spans)
    assert len(decoder.tokens) == pair.context_length
    assert min(spans) < 5, "the last rounds draft fewer tokens than k"


# --- EOS ---------------------------------------------------------------------------------------


def _greedy_rounds(pair: ModelPair, prompt: str) -> list[RoundFinished]:
    config = DecodeConfig(
        drafter=pair.drafter_id,
        verifier=pair.verifier_id,
        policy="greedy",
        max_new_tokens=40,
        stop_at_eos=False,
    )
    return [
        e for e in SpeculativeDecoder(pair, config, prompt).events() if isinstance(e, RoundFinished)
    ]


@pytest.mark.parametrize("where", ["accepted-draft", "correction"])
def test_eos_in_the_draft_or_as_the_correction_ends_the_decode(
    tiny_loaded: ModelPair, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    prompt = "It is important to"
    rounds = _greedy_rounds(tiny_loaded, prompt)
    output = [token for r in rounds for token in r.appended_ids]
    # Pick a token that first appears in the output at the wanted kind of place, and first
    # appears in any draft no earlier than that round.
    chosen = None
    for number, r in enumerate(rounds):
        for index, (token, origin) in enumerate(zip(r.appended_ids, r.origins, strict=True)):
            wanted = origin.value == "draft" and index < len(r.draft_ids) - 1
            if where == "correction":
                wanted = origin.value == "correction"
            earlier = output[: sum(len(x.appended_ids) for x in rounds[:number]) + index]
            drafted_before = (
                any(token in x.draft_ids for x in rounds[:number]) or token in r.draft_ids[:index]
            )
            if wanted and token not in earlier and not drafted_before:
                chosen = (number, token)
                break
        if chosen:
            break
    assert chosen is not None, "the greedy decode has such a token"
    number, eos = chosen
    monkeypatch.setattr(ModelPair, "eos_token_id", property(lambda self: eos))
    config = DecodeConfig(
        drafter=tiny_loaded.drafter_id,
        verifier=tiny_loaded.verifier_id,
        policy="greedy",
        max_new_tokens=40,
    )
    events = list(SpeculativeDecoder(tiny_loaded, config, prompt).events())
    finished = [e for e in events if isinstance(e, RoundFinished)]
    done = events[-1]
    assert done.reason is FinishReason.EOS
    assert done.output_ids[-1] == eos and eos not in done.output_ids[:-1]
    assert len(finished) == number + 1, "it ends in the round where EOS appears"
    last = finished[-1]
    if where == "accepted-draft":
        assert last.draft_ids[-1] == eos, "the drafter stops drafting at EOS"
        assert last.origins[-1].value == "draft"
    else:
        assert last.origins[-1].value == "correction"
    stats = done.stats
    assert stats.rounds == len(finished)
    assert stats.drafted == sum(len(r.draft_ids) for r in finished)
    assert stats.accepted == sum(r.n_accepted for r in finished) <= stats.drafted
    assert stats.new_tokens == len(done.output_ids)


def test_json_output_of_an_emoji_prompt(
    tiny_pair: TinyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    prompt = UNUSUAL_PROMPTS["emoji"]
    status, out, err = cli(
        capsys, "run", *pair_args(tiny_pair), "--json", "--policy", "greedy", "--prompt", prompt
    )
    assert status == 0 and "Traceback" not in err
    done = [json.loads(line) for line in out.splitlines()][-1]
    assert done["event"] == "done" and done["prompt"] == prompt
