"""The monthly trend report."""
