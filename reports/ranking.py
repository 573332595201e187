"""The ranking of the survey-update list: which of a subsection's new papers the survey should add first.

The weights are named here once; the report's text prints them from here, so the text and the ranking
cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from classify.labels import paper_text

SCORE_WEIGHT = 0.5  # the paper's label score
CENTRALITY_WEIGHT = 0.3  # cosine of its TF-IDF vector to the subsection's centre this month
CITATION_WEIGHT = 0.2  # min(1, citing papers of the last 12 months / CITATIONS_FOR_FULL_WEIGHT)
CITATIONS_FOR_FULL_WEIGHT = 3


@dataclass(frozen=True)
class Candidate:
    """A paper of the month under one subsection, with what the ranking weighs."""

    arxiv_id: str
    title: str
    abstract: str | None
    score: float
    cited_by: int


def ranking_rule() -> str:
    """The ranking in words, with its weights."""
    return (
        f"{SCORE_WEIGHT} x label score + {CENTRALITY_WEIGHT} x centrality (cosine of the paper's TF-IDF vector to "
        f"its subsection's centre this month) + {CITATION_WEIGHT} x min(1, citing papers of the last 12 months / "
        f"{CITATIONS_FOR_FULL_WEIGHT})"
    )


def rank_candidates(candidates: list[Candidate], limit: int) -> list[Candidate]:
    """The ``limit`` best candidates of one subsection by :func:`ranking_rule`."""
    vectors = TfidfVectorizer(stop_words="english").fit_transform(
        [paper_text(candidate.title, candidate.abstract) for candidate in candidates]
    )
    centre = normalize(np.asarray(vectors.mean(axis=0)))
    centrality = np.asarray(normalize(vectors) @ centre.T).ravel()
    worth = [
        SCORE_WEIGHT * candidate.score
        + CENTRALITY_WEIGHT * central
        + CITATION_WEIGHT * min(1.0, candidate.cited_by / CITATIONS_FOR_FULL_WEIGHT)
        for candidate, central in zip(candidates, centrality, strict=True)
    ]
    order = sorted(range(len(candidates)), key=lambda index: -worth[index])
    return [candidates[index] for index in order[:limit]]
