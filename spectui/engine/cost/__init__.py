"""Leviathan et al.'s cost model: the measured step costs, and the sampler that measures them."""
