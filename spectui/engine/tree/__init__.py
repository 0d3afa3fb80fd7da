"""Token trees: their shape, how drafters grow them, one-forward verification, the walk."""
