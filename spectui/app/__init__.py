"""The Textual app: watch and step through a speculative decode token by token.

Nothing here imports torch or transformers at module level: the first frame paints while
the models load in a worker (see `driver.py`).
"""
