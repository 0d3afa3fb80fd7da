"""`spectui bench`: the engine timed against plain decoding, HF assisted generation and the seed.

Modules: `baselines` (what a user would run instead), `oracle` (the engine, and the engine with an
oracle drafter at a chosen acceptance), `synthetic` (random-weight GPT-2-sized pairs), `runner`
(interleaved timing), `report` (rich tables and the JSON object), `suite` (what `spectui bench`
runs), `remote` (a served verifier's timing). The step-cost sampler is the engine's
(`spectui.engine.cost.sampler`).
"""
