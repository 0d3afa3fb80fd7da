"""The `s` screen: the policy, the gate thresholds, draft span and bonus, changed live.

Values are checked by `DecodeConfig.retuned`, the engine's own validation, so a refusal names
the field and its allowed range exactly as `spectui run` would.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from spectui.app.screens.dialog import Dialog
from spectui.engine.config import MAX_DRAFT_SPAN, POLICY_LABELS, ConfigError, DecodeConfig

# field -> (label, input type, allowed range shown beside it)
NUMERIC_FIELDS: dict[str, tuple[str, str, str]] = {
    "draft_span": ("draft span k", "integer", f"1..{MAX_DRAFT_SPAN}"),
    "p_thresh": ("p threshold", "number", "0..1"),
    "topk_gate": ("top-k gate", "integer", "≥ 1"),
    "margin_gate": ("margin gate", "number", "0..1"),
    "max_accept": ("max accepted", "integer", "≥ 0"),
}


class SettingsScreen(Dialog[dict[str, Any] | None]):
    """Returns the changed settings (already validated), or None when cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "apply", "Apply"),
    ]

    def __init__(self, config: DecodeConfig) -> None:
        super().__init__()
        self.config = config

    def compose(self) -> ComposeResult:
        with Vertical(id="settings-body", classes="dialog") as body:
            body.border_title = "settings (from the next round)"
            body.border_subtitle = "enter/ctrl+s apply · esc cancel"
            with Horizontal(classes="field"):
                yield Label("policy", classes="field-label")
                yield Select(
                    [(label, name) for name, label in POLICY_LABELS.items()],
                    value=self.config.policy,
                    allow_blank=False,
                    compact=True,
                    id="policy",
                )
            for name, (label, kind, allowed) in NUMERIC_FIELDS.items():
                with Horizontal(classes="field"):
                    yield Label(label, classes="field-label")
                    yield Input(
                        _text(getattr(self.config, name)),
                        type=kind,  # type: ignore[arg-type]
                        compact=True,
                        id=name,
                        select_on_focus=True,
                    )
                    yield Label(allowed, classes="hint")
            with Horizontal(classes="field"):
                yield Label("bonus token", classes="field-label")
                yield Checkbox(
                    "after a fully accepted draft", self.config.bonus, compact=True, id="bonus"
                )
            yield Static("", id="settings-error")
            with Horizontal(id="settings-buttons"):
                yield Button("Apply", variant="primary", id="apply", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def changes(self) -> dict[str, Any]:
        """The values as typed; raises ConfigError naming the first bad one."""
        values: dict[str, Any] = {
            "policy": self.query_one("#policy", Select).value,
            "bonus": self.query_one("#bonus", Checkbox).value,
        }
        for name, (_, kind, allowed) in NUMERIC_FIELDS.items():
            raw = self.query_one(f"#{name}", Input).value.strip()
            try:
                values[name] = int(raw) if kind == "integer" else float(raw)
            except ValueError:
                noun = "an integer" if kind == "integer" else "a number"
                raise ConfigError(f"{name} must be {noun} {allowed}, got {raw!r}") from None
        self.config.retuned(**values)  # the engine's validation: raises ConfigError
        return {k: v for k, v in values.items() if getattr(self.config, k) != v}

    @on(Input.Submitted)
    @on(Button.Pressed, "#apply")
    def action_apply(self) -> None:
        """Validate and return the changes; a bad value is refused with its allowed range."""
        try:
            changes = self.changes()
        except ConfigError as error:
            message = self.query_one("#settings-error", Static)
            message.update(f"✗ {error}")
            message.display = True
            return
        self.close(changes)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.close(None)


def _text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
