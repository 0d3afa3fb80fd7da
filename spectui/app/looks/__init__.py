"""How each acceptance policy is shown: its columns, gate symbols and rule in words, by name."""
