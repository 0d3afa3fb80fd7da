"""Events as JSON-ready dicts: the shape of `spectui run --json` lines and of trace records.

`spectui.engine.trace` reads them back (validating every field) into the same events.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from spectui.engine.config import DecodeConfig
from spectui.engine.events import DecodeFinished, RoundFinished
from spectui.engine.policies import GateCheck


def config_as_dict(config: DecodeConfig) -> dict[str, Any]:
    """Every DecodeConfig field, in declaration order."""
    return {field.name: getattr(config, field.name) for field in fields(config)}


def check_as_dict(check: GateCheck) -> dict[str, Any]:
    """One gate check with every quantity, each gate and both policies' verdicts."""
    return {
        "position": check.position,
        "token_id": check.token_id,
        "q": check.q,
        "p": check.p,
        "rank": check.rank,
        "top1_id": check.top1_id,
        "p_top1": check.p_top1,
        "margin": check.margin,
        "gates": check.gates.as_dict(),
        "chance": {
            "accept_probability": check.chance.accept_probability,
            "uniform": check.chance.uniform,
        },
        "verdicts": dict(check.verdicts),
        "policy": check.policy,
        "accepted": check.accepted,
        "alternatives": [[token_id, p] for token_id, p in check.alternatives],
    }


def round_as_dict(event: RoundFinished) -> dict[str, Any]:
    """A finished round: its drafts, checks, appended tokens and the settings it ran under."""
    config = event.config
    return {
        "event": "round",
        "round": event.round_index,
        "policy": config.policy,
        "settings": {
            "draft_span": config.draft_span,
            "p_thresh": config.p_thresh,
            "topk_gate": config.topk_gate,
            "margin_gate": config.margin_gate,
            "max_accept": config.max_accept,
            "bonus": config.bonus,
        },
        "draft_ids": list(event.draft_ids),
        "q": list(event.q),
        "checks": [check_as_dict(check) for check in event.checks],
        "appended_ids": list(event.appended_ids),
        "origins": [origin.value for origin in event.origins],
        "n_accepted": event.n_accepted,
        "stats": event.stats.as_dict(),
    }


def done_as_dict(event: DecodeFinished, prompt: str, policy: str, text: str) -> dict[str, Any]:
    """The end of one decode: the new tokens, their text and the final statistics."""
    return {
        "event": "done",
        "prompt": prompt,
        "policy": policy,
        "reason": event.reason.value,
        "prompt_ids": list(event.prompt_ids),
        "output_ids": list(event.output_ids),
        "text": text,
        "stats": event.stats.as_dict(),
    }
