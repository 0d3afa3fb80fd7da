"""The decode screen: its state, the inputs that change it, one reducer, effects as data."""

from spectui.app.screens.decode.screen import DecodeScreen

__all__ = ["DecodeScreen"]
