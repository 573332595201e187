"""Embeddings, taxonomy and the classifier that sorts papers into the survey's taxonomy."""
