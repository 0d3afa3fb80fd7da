"""Drafters without a second model: n-gram prompt lookup, and the verifier's own early exit."""
