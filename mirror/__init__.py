"""A local arXiv-compatible mirror (Atom API and PDFs) fed with real corpus metadata."""
