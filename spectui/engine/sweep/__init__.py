"""Sweeps of acceptance settings: the grid, the JSON Lines file, the runner and the report."""
