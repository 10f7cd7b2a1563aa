"""The quality axis: sentence embeddings, scorers, datasets and sweeps."""
