"""The `s` screen: every between-round setting of DecodeConfig, changed live.

The form is made from the config's field metadata (label, range, choices), one row per
tunable field. Values are checked by `DecodeConfig.retuned`, the engine's own validation, so a
refusal names the field and its allowed range exactly as `spectui run` would.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from spectui.app.screens.dialog import Dialog
from spectui.engine.config import (
    ConfigError,
    DecodeConfig,
    allowed_range,
    base_type,
    knob_of,
    tunable_names,
)
from spectui.engine.policies import policy_label

INPUT_TYPES = {int: "integer", float: "number"}


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
            for name in tunable_names():
                with Horizontal(classes="field"):
                    yield Label(knob_of(name).label, classes="field-label")
                    yield from self._field(name)
            yield Static("", id="settings-error")
            with Horizontal(id="settings-buttons"):
                yield Button("Apply", variant="primary", id="apply", compact=True)
                yield Button("Cancel", id="cancel", compact=True)

    def _field(self, name: str) -> ComposeResult:
        """The input for one setting: a choice, a number or a switch."""
        value, rule, kind = getattr(self.config, name), knob_of(name), base_type(name)
        if rule.choices is not None:
            options = [(policy_label(choice), choice) for choice in rule.choices()]
            yield Select(options, value=value, allow_blank=False, compact=True, id=name)
        elif kind is bool:
            yield Checkbox(rule.note, value, compact=True, id=name)
        else:
            yield Input(
                _text(value),
                type=INPUT_TYPES[kind],  # type: ignore[arg-type]
                compact=True,
                id=name,
                select_on_focus=True,
            )
            yield Label(allowed_range(name), classes="hint")

    def _value(self, name: str) -> Any:
        """One setting as entered; raises ConfigError for text that is not of its type."""
        widget = self.query_one(f"#{name}")
        if isinstance(widget, (Select, Checkbox)):
            return widget.value
        assert isinstance(widget, Input)
        raw, kind = widget.value.strip(), base_type(name)
        try:
            return kind(raw)
        except ValueError:
            noun = "an integer" if kind is int else "a number"
            raise ConfigError(f"{name} must be {noun} {allowed_range(name)}, got {raw!r}") from None

    def changes(self) -> dict[str, Any]:
        """The values as typed; raises ConfigError naming the first bad one."""
        values = {name: self._value(name) for name in tunable_names()}
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
