"""Token texts for a live stream: each token's share of the decoded text, characters kept whole.

Decoding tokens one at a time breaks any character that byte-level BPE splits over several
tokens (an emoji, most CJK, many accented letters): each part decodes to U+FFFD. A stream
built from such texts never shows the character at all. `StreamText` instead gives each token
what it adds to the decode of the whole output, holding back a partial character until the
token that completes it, so the texts it hands out join up to `decode(output)`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

REPLACEMENT = "\ufffd"  # what a partial UTF-8 sequence decodes to


class StreamText:
    """Feed output tokens in order; each call returns the text that token adds ("" if held)."""

    def __init__(self, decode: Callable[[Sequence[int]], str]) -> None:
        self._decode = decode
        self._ids: list[int] = []
        self._shown = ""

    @property
    def shown(self) -> str:
        """The text handed out so far."""
        return self._shown

    def add(self, token_id: int, index: int | None = None) -> str:
        """The text `token_id` adds; "" while it ends in the middle of a character.

        `index` is the token's place in the output; a smaller one than expected (a decode
        rewound) first forgets the tokens from there on.
        """
        if index is not None and index < len(self._ids):
            del self._ids[index:]
            self._shown = self._settled()
        self._ids.append(token_id)
        text = self._decode(self._ids)
        if text.endswith(REPLACEMENT):
            return ""  # maybe a partial character: the token that completes it shows it
        added = text[len(self._shown) :]
        self._shown = text
        return added

    def _settled(self) -> str:
        """The text of the longest prefix that does not end in a partial character."""
        for end in range(len(self._ids), 0, -1):
            text = self._decode(self._ids[:end])
            if not text.endswith(REPLACEMENT):
                return text
        return ""
