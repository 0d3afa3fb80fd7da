"""Loading a drafter/verifier pair here: Hugging Face models, their KV caches, the checks."""
