"""The settings form takes only what a field's type allows, and says so in the words on screen.

Textual's `Input(type="integer")` used to drop each key its pattern refused (a bell, nothing
else), so typing 0.5 left "05" and Apply set 5; 1e400 became 1400. Now the text stays as typed
and Apply refuses it, quoting it and naming the field by its label. The form is opened on a
bare app: no models load.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from app_helpers import plain
from textual import events
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input, Label, Static

import spectui.app
from spectui.app.screens.settings import SettingsScreen
from spectui.engine.config import DecodeConfig, tunable_names

NUMERIC_FIELDS = ("draft_span", "p_thresh", "topk_gate", "margin_gate", "max_accept")


class FormApp(App[None]):
    """An app showing only the settings form; `result` is what the form returned."""

    CSS_PATH = Path(spectui.app.__file__).with_name("app.tcss")

    def __init__(self) -> None:
        super().__init__()
        self.result: dict[str, Any] | None = None
        self.returned = False

    def on_mount(self) -> None:
        self.push_screen(SettingsScreen(DecodeConfig()), self.keep_result)

    def keep_result(self, result: dict[str, Any] | None) -> None:
        self.result, self.returned = result, True


def form_of(pilot: Pilot[Any]) -> SettingsScreen:
    """The settings form, still open."""
    screen = pilot.app.screen
    assert isinstance(screen, SettingsScreen), "a refused value keeps the form open"
    return screen


def refusal(pilot: Pilot[Any]) -> str:
    """The form's error line, as plain text."""
    return plain(form_of(pilot).query_one("#settings-error", Static), width=200).strip()


def label_of(form: SettingsScreen, name: str) -> str:
    """The label on screen beside field `name`."""
    row = form.query_one(f"#{name}").parent
    assert row is not None
    return plain(row.query_one(".field-label", Label)).strip()


async def type_into(pilot: Pilot[Any], name: str, *keys: str) -> Input:
    """Focus field `name` (its text is selected, so typing replaces it) and press `keys`."""
    field = form_of(pilot).query_one(f"#{name}", Input)
    field.focus()
    await pilot.pause()
    await pilot.press(*keys)
    return field


async def test_an_integer_field_keeps_a_typed_fraction_and_refuses_it() -> None:
    app = FormApp()
    async with app.run_test(size=(100, 30)) as pilot:
        field = await type_into(pilot, "draft_span", "0", "full_stop", "5")
        assert field.value == "0.5", "no key is dropped"
        await pilot.press("enter")
        assert refusal(pilot) == "✗ draft span k must be an integer 1..64, got '0.5'"
        assert not app.returned


@pytest.mark.parametrize("how", ["set", "pasted"])
async def test_an_integer_field_refuses_a_fraction_set_or_pasted(how: str) -> None:
    app = FormApp()
    async with app.run_test(size=(100, 30)) as pilot:
        field = form_of(pilot).query_one("#topk_gate", Input)
        if how == "set":
            field.value = "0.5"
        else:
            field.focus()
            await pilot.pause()
            field.post_message(events.Paste("0.5\nignored"))
            await pilot.pause()
            assert field.value == "0.5"
        await pilot.press("ctrl+s")
        assert refusal(pilot) == "✗ top-k gate must be an integer ≥ 1, got '0.5'"
        assert not app.returned


async def test_letters_are_quoted_as_typed() -> None:
    app = FormApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await type_into(pilot, "max_accept", "a", "b", "c")
        await pilot.press("enter")
        assert refusal(pilot) == "✗ max accepted must be an integer ≥ 0, got 'abc'"


@pytest.mark.parametrize("text", ["1e400", "inf", "-inf", "nan", "2"])
async def test_a_number_field_refuses_what_is_not_a_finite_number_in_range(text: str) -> None:
    app = FormApp()
    async with app.run_test(size=(100, 30)) as pilot:
        form_of(pilot).query_one("#p_thresh", Input).value = text
        await pilot.press("ctrl+s")
        assert refusal(pilot) == f"✗ p threshold must be a number 0..1, got {text!r}"
        assert not app.returned


async def test_a_typed_exponent_is_refused_not_shortened() -> None:
    app = FormApp()
    async with app.run_test(size=(100, 30)) as pilot:
        field = await type_into(pilot, "margin_gate", "1", "e", "4", "0", "0")
        assert field.value == "1e400"
        await pilot.press("enter")
        assert refusal(pilot) == "✗ margin gate must be a number 0..1, got '1e400'"


@pytest.mark.parametrize("name", NUMERIC_FIELDS)
async def test_every_refusal_names_the_field_by_its_label_with_one_set_of_symbols(
    name: str,
) -> None:
    app = FormApp()
    async with app.run_test(size=(100, 30)) as pilot:
        form = form_of(pilot)
        form.query_one(f"#{name}", Input).value = "-5"
        await pilot.press("ctrl+s")
        message = refusal(pilot)
        assert message.startswith(f"✗ {label_of(form, name)} must be "), message
        assert name not in message and ">=" not in message and "<=" not in message


async def test_values_that_fit_are_returned_as_numbers() -> None:
    app = FormApp()
    async with app.run_test(size=(100, 30)) as pilot:
        assert set(NUMERIC_FIELDS) <= set(tunable_names())
        await type_into(pilot, "draft_span", "3")
        form_of(pilot).query_one("#p_thresh", Input).value = " 0.25 "
        await pilot.press("enter")
        await pilot.pause()
        assert app.returned and app.result == {"draft_span": 3, "p_thresh": 0.25}


@pytest.mark.parametrize(
    ("burst", "expected"),
    [
        (("end", "backspace", "3"), "3"),  # the tmux burst: `End BSpace 3`
        (("end", "backspace", "backspace", "7", "3"), "73"),
        (("home", "delete", "9"), "9"),
    ],
)
async def test_keys_typed_in_one_burst_reach_the_field_in_order(
    burst: tuple[str, ...], expected: str
) -> None:
    """Keys a terminal delivers in one read are posted together, as the driver posts them;
    an editing key (a binding) must act before the printable key behind it."""
    app = FormApp()
    async with app.run_test(size=(100, 30)) as pilot:
        field = form_of(pilot).query_one("#draft_span", Input)
        field.focus()
        await pilot.pause()
        for key in burst:
            character = key if len(key) == 1 else None
            app.post_message(events.Key(key, character))
        await pilot.pause()
        assert field.value == expected
