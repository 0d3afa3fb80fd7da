"""The `s` screen: every between-round setting of DecodeConfig, changed live.

The form is made from the config's field metadata (label, range, choices), one row per
tunable field. Numbers are typed as text and checked on Apply: what was typed stays on screen,
and a refusal quotes it, names the setting by its label and gives the range shown beside it.
Values are then checked by `DecodeConfig.retuned`, the engine's own validation.
"""

from __future__ import annotations

import math
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from spectui.app.screens.dialog import Dialog
from spectui.app.widgets.field import Field
from spectui.engine.config import (
    ConfigError,
    DecodeConfig,
    allowed_range,
    base_type,
    field_problem,
    knob_of,
    requirement,
    tunable_names,
)
from spectui.engine.policy.registry import policy_label


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
        value, rule, kind = self.config.setting(name), knob_of(name), base_type(name)
        if rule.choices is not None:
            options = [(policy_label(choice), choice) for choice in rule.choices()]
            yield Select(options, value=value, allow_blank=False, compact=True, id=name)
        elif kind is bool:
            yield Switch(switch_label(value, rule.note), value, compact=True, id=name)
        else:
            # Plain text, not Textual's type="integer"/"number": those drop each key their pattern
            # refuses with only a bell, so in an integer field "0.5" became "05", "1e400" "1400".
            yield Field(_text(value), compact=True, id=name, select_on_focus=True)
            yield Label(allowed_range(name), classes="hint")

    def _value(self, name: str) -> Any:
        """One setting as entered; raises ConfigError quoting the text unless it fits the field."""
        widget = self.query_one(f"#{name}")
        if isinstance(widget, (Select, Checkbox)):
            return widget.value
        assert isinstance(widget, Input)
        text = widget.value.strip()
        value = _number(text, base_type(name))
        if value is None or field_problem(name, value) is not None:
            # The text as typed, not the number it parsed to: '1e400', not inf.
            raise ConfigError(f"{requirement(name, knob_of(name).label)}, got {text!r}")
        return value

    def changes(self) -> dict[str, Any]:
        """The values as typed; raises ConfigError naming the first bad one."""
        values = {name: self._value(name) for name in tunable_names()}
        self.config.retuned(**values)  # the engine's validation: raises ConfigError
        return {k: v for k, v in values.items() if self.config.setting(k) != v}

    @on(Checkbox.Changed)
    def switched(self, event: Checkbox.Changed) -> None:
        """A switch's label says whether it is on (its box alone reads the same both ways)."""
        name = event.checkbox.id
        if name is not None:
            event.checkbox.label = switch_label(event.value, knob_of(name).note)

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


def _number(text: str, kind: type) -> int | float | None:
    """`text` as a number of `kind`, or None: not one ("0.5" for an int), or not finite."""
    try:
        number: int | float = kind(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None  # float() takes "inf", "nan", "1e400"


def _text(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


class Switch(Checkbox):
    """A checkbox whose box shows its state: ✓ when on, empty when off (Textual's checkbox
    draws an X either way and tells them apart by colour alone)."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # noqa: N802 (Textual's name)
        return "✓" if self.value else " "


def switch_label(on: bool, note: str) -> str:
    """A switch's label: "on: <note>" or "off: <note>"."""
    return f"{'on' if on else 'off'}: {note}"
