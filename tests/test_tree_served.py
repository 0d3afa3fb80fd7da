"""Token trees with a served verifier are refused, with the reason, against a real vLLM server.

vLLM's completion API takes a prompt, not a tree attention mask: a tree cannot be scored in
the one request a round makes. The refusal comes when the config is built (the CLI, a
retune between rounds), before any round; the chain decode on the same server goes on.
"""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("httpx", reason="the remote verifier needs httpx")

from vllm_servers import Servers  # noqa: E402

from spectui.cli import main  # noqa: E402
from spectui.engine import ConfigError, DecodeConfig, SpeculativeDecoder, load_pair  # noqa: E402
from spectui.engine.events import RoundFinished  # noqa: E402
from spectui.models import BUNDLED_DRAFTER  # noqa: E402

REASON = "token trees cannot be verified by a verifier on a server"


def test_a_tree_config_with_a_served_verifier_is_refused_before_anything_loads() -> None:
    with pytest.raises(ConfigError, match=REASON):
        DecodeConfig(verifier_url="http://127.0.0.1:9/v1", tree_topk=2)
    with pytest.raises(ConfigError, match="need the drafter loaded here"):
        DecodeConfig(drafter_url="http://127.0.0.1:9/v1", tree_choices="0 1")


@pytest.mark.vllm
def test_trees_are_refused_with_the_real_served_verifier(
    vllm_servers: Servers, capsys: Any
) -> None:
    with pytest.raises(SystemExit) as exit_:  # argparse's refusal of the options, status 2
        main(["run", "--verifier-url", vllm_servers.url, "--tree-topk", "2", "--json"])
    status = exit_.value.code
    captured = capsys.readouterr()
    assert status != 0 and captured.out == ""
    assert REASON in " ".join(captured.err.split())
    config = DecodeConfig(
        verifier_url=vllm_servers.url, drafter=str(BUNDLED_DRAFTER), max_new_tokens=12
    )
    pair = load_pair(config)
    decoder = SpeculativeDecoder(pair, config, "Once upon a time,")
    events = decoder.events()
    first = next(event for event in events if isinstance(event, RoundFinished))
    assert first.tree is None
    with pytest.raises(ConfigError, match=REASON):
        decoder.retune(tree_topk=2, tree_nodes=8)
    done = [event for event in events if isinstance(event, RoundFinished)]
    assert all(event.tree is None for event in done)  # the chain goes on, as configured
    assert len(decoder.output_ids) == 12
