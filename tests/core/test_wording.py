"""Counts in words."""

from __future__ import annotations

from core.wording import counted


def test_counts_in_words_agree_with_their_number() -> None:
    assert [counted(count, "paper") for count in (0, 1, 2)] == ["0 papers", "1 paper", "2 papers"]
