"""Text helpers the survey outputs share."""

from __future__ import annotations

import re


def first_sentence(text: str | None, limit: int = 200) -> str:
    """The first sentence of an abstract, whitespace collapsed, cut to ``limit`` characters with an ellipsis."""
    sentence = re.split(r"(?<=[.!?])\s", " ".join((text or "").split()), maxsplit=1)[0]
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"
