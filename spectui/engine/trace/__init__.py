"""Traces and event logs: one decode's events, written as JSON Lines and read back."""
