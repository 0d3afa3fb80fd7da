"""Traces: a decode saved as JSON Lines reads back as the same events; damage fails clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from tiny_models import TinyPair

from spectui.cli import build_parser, main
from spectui.engine.config import DecodeConfig
from spectui.engine.decode import SpeculativeDecoder
from spectui.engine.events import DecodeFinished, EngineEvent, RoundFinished, TokenAppended
from spectui.engine.trace.header import TRACE_FORMAT, TRACE_VERSION, TraceError
from spectui.engine.trace.log import EventLog
from spectui.engine.trace.reader import read_trace
from spectui.engine.trace.source import LiveSource
from spectui.engine.trace.writer import TraceWriter

PROMPT = "Once upon a time,"


def decode_and_save(
    pair: Any, path: Path, **overrides: Any
) -> tuple[list[EngineEvent], SpeculativeDecoder]:
    """Decode PROMPT on `pair`, writing the trace as the engine goes; returns every event."""
    values: dict[str, Any] = {"max_new_tokens": 24}
    values.update(overrides)
    config = DecodeConfig(drafter=pair.drafter_id, verifier=pair.verifier_id, **values)
    source = LiveSource(pair, config, PROMPT)
    log = EventLog(source.header)
    events: list[EngineEvent] = []
    with TraceWriter(path, source.header) as writer:
        for event in source.events():
            events.append(event)
            shown = source.shown(event) if isinstance(event, TokenAppended) else None
            log.record(event, source.texts(event), shown)
            if isinstance(event, RoundFinished):
                writer.round(event, log)
            elif isinstance(event, DecodeFinished):
                writer.done(event, log)
    return events, source.decoder


@pytest.fixture(scope="module")
def saved(tiny_loaded: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """A soft-guarded decode with bonus tokens, saved once for the module's tests."""
    path = tmp_path_factory.mktemp("trace") / "soft.jsonl"
    events, _ = decode_and_save(tiny_loaded, path, bonus=True)
    return path, events


@pytest.mark.parametrize(
    "overrides",
    [
        pytest.param({"policy": "soft", "bonus": True}, id="soft"),
        pytest.param({"policy": "greedy"}, id="greedy"),
        pytest.param({"policy": "sample", "sample_draft": True, "seed": 7}, id="sample"),
        pytest.param(
            {"policy": "soft", "bonus": True, "tree_topk": 3, "tree_depth": 3, "tree_nodes": 8},
            id="tree-soft",
        ),
        pytest.param(
            {"policy": "sample", "sample_draft": True, "seed": 6, "tree_topk": 2, "tree_depth": 3},
            id="tree-sample",
        ),
        pytest.param({"policy": "greedy", "tree_choices": "0 1 0.0 0.1 0.0.0"}, id="tree-static"),
    ],
)
def test_round_trip_gives_the_same_events(
    tiny_loaded: Any, tmp_path: Path, overrides: dict[str, Any]
) -> None:
    path = tmp_path / "trace.jsonl"
    events, decoder = decode_and_save(tiny_loaded, path, **overrides)
    trace = read_trace(path)
    assert list(trace.events()) == events
    assert trace.done == events[-1]
    assert trace.done is not None and trace.done.stats == decoder.tally.snapshot()
    assert trace.header.config == events[0].config  # type: ignore[union-attr]
    assert trace.header.prompt == PROMPT and trace.header.prompt_ids == decoder.prompt_ids
    text = tiny_loaded.tokenizer.decode(list(decoder.output_ids), skip_special_tokens=False)
    assert "".join(trace.appended_texts) == text


def test_a_tree_trace_records_every_node_and_replays_its_trees(
    tiny_loaded: Any, tmp_path: Path
) -> None:
    path = tmp_path / "tree.jsonl"
    tree = {"tree_topk": 3, "tree_depth": 3, "tree_nodes": 8}
    events, _ = decode_and_save(tiny_loaded, path, policy="soft", **tree)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0]["version"] == TRACE_VERSION == 4
    rounds = [line for line in lines if line.get("event") == "round"]
    assert all(len(line["tree"]["nodes"]) > len(line["checks"]) for line in rounds[:-1])
    assert rounds[0]["settings"]["tree_topk"] == 3
    live = [event.tree for event in events if isinstance(event, RoundFinished)]
    assert [event.tree for event in read_trace(path).rounds] == live
    # a damaged tree fails with the line and the problem
    rounds[0]["tree"]["path"] = [99]
    damaged = [lines[0], rounds[0]]
    (tmp_path / "bad.jsonl").write_text("".join(json.dumps(line) + "\n" for line in damaged))
    with pytest.raises(TraceError, match="line 2: the tree's path"):
        read_trace(tmp_path / "bad.jsonl")


def test_a_version_3_trace_still_reads(tiny_loaded: Any, tmp_path: Path) -> None:
    """Chain rounds are unchanged in version 4: a version-3 file reads as the same events."""
    events, _ = decode_and_save(tiny_loaded, tmp_path / "v4.jsonl", policy="soft")
    lines = (tmp_path / "v4.jsonl").read_text().splitlines()
    header = json.loads(lines[0])
    header["version"] = 3
    (tmp_path / "v3.jsonl").write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
    assert list(read_trace(tmp_path / "v3.jsonl").events()) == events


def test_sampled_trace_replays_its_seed(tiny_loaded: Any, tmp_path: Path) -> None:
    """The header's config (seed included) decodes the very same speculative-sampling run."""
    overrides = {"policy": "sample", "sample_draft": True, "seed": 11}
    _, first = decode_and_save(tiny_loaded, tmp_path / "a.jsonl", **overrides)
    header = read_trace(tmp_path / "a.jsonl").header
    again = SpeculativeDecoder(tiny_loaded, header.config, header.prompt)
    assert again.run().output_ids == first.output_ids
    checks = [r.checks for r in read_trace(tmp_path / "a.jsonl").rounds]
    assert any(check.chance.uniform > 0 for round_checks in checks for check in round_checks)


def test_texts_are_stored_for_every_id(saved: tuple[Path, list[Any]], tiny_loaded: Any) -> None:
    """Replay needs no tokenizer: every drafted, alternative and appended id has its text."""
    path, events = saved
    trace = read_trace(path)
    for event in events:
        if isinstance(event, RoundFinished):
            for check in event.checks:
                for token_id, _ in check.alternatives:
                    assert trace.token_text(token_id) == tiny_loaded.token_text(token_id)
            for token_id in event.draft_ids + event.appended_ids:
                assert trace.token_text(token_id) == tiny_loaded.token_text(token_id)


def test_header_names_everything(saved: tuple[Path, list[Any]]) -> None:
    path, _ = saved
    header = json.loads(path.read_text().splitlines()[0])
    assert header["format"] == TRACE_FORMAT and header["version"] == TRACE_VERSION
    assert set(header["config"]) >= {"drafter", "verifier", "policy", "seed", "sample_draft"}
    assert header["tokenizer"]["vocab_size"] > 0 and "eos_id" in header["tokenizer"]
    assert {"spectui", "created", "prompt", "prompt_ids", "drafter", "verifier"} <= set(header)
    first_round = json.loads(path.read_text().splitlines()[1])
    check = first_round["checks"][0]
    assert {"gates", "verdicts", "chance", "alternatives"} <= set(check)
    assert set(check["verdicts"]) == {"greedy", "soft", "sample", "relaxed", "typical"}


def test_a_trace_saved_mid_decode_has_no_done_record(
    saved: tuple[Path, list[Any]], tmp_path: Path
) -> None:
    path, _ = saved
    lines = path.read_text().splitlines()
    partial = tmp_path / "partial.jsonl"
    partial.write_text("\n".join(lines[:3]) + "\n")
    trace = read_trace(partial)
    assert len(trace.rounds) == 2 and trace.done is None


# --- damaged and foreign files ----------------------------------------------------------------


def damaged(saved: tuple[Path, list[Any]], tmp_path: Path, edit: Any) -> Path:
    """A copy of the saved trace with its lines changed by `edit(lines) -> lines`."""
    path, _ = saved
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    out = tmp_path / "damaged.jsonl"
    out.write_text("".join(json.dumps(line) + "\n" for line in edit(lines)))
    return out


def fails(path: Path, *fragments: str) -> str:
    with pytest.raises(TraceError) as caught:
        read_trace(path)
    message = str(caught.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    fails(path, "is empty", "header")


def test_missing_file(tmp_path: Path) -> None:
    fails(tmp_path / "nope.jsonl", "cannot read")


def test_not_json(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello world\nsecond line\n")
    fails(path, "line 1", "not JSON")


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "model.bin"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    fails(path, "line 1", "binary")


def test_foreign_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "other.jsonl"
    path.write_text('{"event": "round", "round": 0}\n')
    fails(path, "line 1", "not a spectui trace", TRACE_FORMAT)


def test_unknown_version(saved: tuple[Path, list[Any]], tmp_path: Path) -> None:
    def newer(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[0]["version"] = 99
        return lines

    fails(
        damaged(saved, tmp_path, newer),
        "line 1",
        "version 99",
        f"versions 1, 2, 3, {TRACE_VERSION}",
    )


def test_round_missing_a_field(saved: tuple[Path, list[Any]], tmp_path: Path) -> None:
    def drop_checks(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        del lines[2]["checks"]
        return lines

    fails(damaged(saved, tmp_path, drop_checks), "line 3", "'checks' is missing", "a list")


def test_nested_field_of_the_wrong_type(saved: tuple[Path, list[Any]], tmp_path: Path) -> None:
    def bad_gate(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[1]["checks"][0]["gates"]["topk"] = "yes"
        return lines

    fails(damaged(saved, tmp_path, bad_gate), "line 2", "checks[0].gates.topk", "true or false")


def test_rounds_out_of_order(saved: tuple[Path, list[Any]], tmp_path: Path) -> None:
    def swap(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        lines[1], lines[2] = lines[2], lines[1]
        return lines

    fails(damaged(saved, tmp_path, swap), "line 2", "out of order", "expected round 1")


def test_truncated_last_line(saved: tuple[Path, list[Any]], tmp_path: Path) -> None:
    path, _ = saved
    text = path.read_text()
    cut = tmp_path / "cut.jsonl"
    cut.write_text(text[: len(text) - 40])
    n_lines = text.count("\n")
    fails(cut, f"line {n_lines}", "cut short")


def test_record_after_done(saved: tuple[Path, list[Any]], tmp_path: Path) -> None:
    def extra(lines: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [*lines, lines[1]]

    path = damaged(saved, tmp_path, extra)
    fails(path, f"line {len(path.read_text().splitlines())}", "follows the 'done' record")


# --- the command line -------------------------------------------------------------------------


def pair_args(pair: TinyPair) -> list[str]:
    return ["--drafter", pair.drafter, "--verifier", pair.verifier]


def test_run_trace_one_decode(tiny_pair: TinyPair, tmp_path: Path, capsys: Any) -> None:
    path = tmp_path / "one.jsonl"
    argv = ["run", *pair_args(tiny_pair), "--policy", "greedy", "--prompt", PROMPT]
    status = main([*argv, "--max-new-tokens", "10", "--trace", str(path), "--json"])
    assert status == 0
    trace = read_trace(path)
    assert trace.done is not None and len(trace.done.output_ids) == 10
    done_line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert done_line["output_ids"] == list(trace.done.output_ids)


def test_run_trace_names_one_file_per_decode(
    tiny_pair: TinyPair, tmp_path: Path, capsys: Any
) -> None:
    path = tmp_path / "many.jsonl"
    argv = ["run", *pair_args(tiny_pair), "--policy", "both", "--prompt", "A", "--prompt", "B"]
    assert main([*argv, "--max-new-tokens", "4", "--trace", str(path)]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == [
        "many-1-greedy.jsonl",
        "many-1-soft.jsonl",
        "many-2-greedy.jsonl",
        "many-2-soft.jsonl",
    ]
    assert read_trace(tmp_path / "many-2-soft.jsonl").header.prompt == "B"
    assert "many-1-soft.jsonl" in capsys.readouterr().err


def test_replay_of_a_damaged_file_exits_cleanly(tmp_path: Path) -> None:
    """`spectui replay` on a foreign file: one line naming file and line, no traceback."""
    path = tmp_path / "foreign.jsonl"
    path.write_text('{"hello": 1}\n')
    done = subprocess.run(
        [sys.executable, "-m", "spectui.cli", "replay", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert f"{path}, line 1" in done.stderr and "not a spectui trace" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_app_takes_a_trace_file_to_autosave() -> None:
    assert build_parser().parse_args(["--trace", "session.jsonl"]).trace == Path("session.jsonl")
