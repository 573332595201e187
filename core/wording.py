"""Counts in words, for the sentences the reports and the command line print."""

from __future__ import annotations


def counted(count: int, noun: str) -> str:
    """``count`` and ``noun``, plural unless the count is one ("1 paper", "3 papers")."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
