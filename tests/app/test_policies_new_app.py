"""The new acceptance policies in the app: `t` reaches them, the settings form has their knobs."""

from __future__ import annotations

from typing import Any

from app_helpers import press, settle

from spectui.app.screens.settings import SettingsScreen


async def test_t_cycles_through_them_and_the_settings_form_has_their_fields(make_app: Any) -> None:
    async with make_app(policy="sample").run_test(size=(120, 40)) as pilot:
        screen = await settle(pilot)
        await press(pilot, "t")
        assert screen.state.config.policy == "relaxed"
        assert "relaxed-acceptance" in screen.status_text
        await press(pilot, "t")
        assert screen.state.config.policy == "typical"
        await press(pilot, "s")
        settings = pilot.app.screen
        assert isinstance(settings, SettingsScreen)
        for name in (
            "relaxed_topk",
            "relaxed_delta",
            "typical_threshold",
            "typical_alpha",
            "temperature",
            "top_k",
            "top_p",
        ):
            assert settings.query(f"#{name}"), name
