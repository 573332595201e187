"""The mirror's search_query parser against arXiv's documented syntax."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.records import date_from_id
from mirror.query import QueryError, parse_query
from mirror.records import MirrorRecord


def _record(arxiv_id: str, title: str, categories: list[str], day: int, abstract: str = "") -> MirrorRecord:
    moment = datetime(2026, 5, day, tzinfo=UTC)
    return MirrorRecord(
        arxiv_id,
        1,
        title,
        abstract,
        ["Ada Lovelace", "Alan Turing"],
        categories,
        categories[0],
        None,
        moment,
        moment,
        0,
    )


RECORDS = [
    _record("2605.00001", "Audio-Visual Segmentation with Diffusion", ["cs.CV", "cs.SD"], 4),
    _record("2605.00002", "Talking Head Generation", ["cs.CV"], 5, "We animate portraits from speech audio."),
    _record("2605.00003", "Speech Recognition at Scale", ["eess.AS"], 8),
    _record("2605.00004", "Random Graphs", ["math.PR"], 9),
]


def _ids(query: str) -> list[str]:
    predicate = parse_query(query)
    return [record.arxiv_id for record in RECORDS if predicate(record)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cat:cs.CV", ["2605.00001", "2605.00002"]),
        ("cat:cs.SD", ["2605.00001"]),  # cross-listed categories match too
        ("cat:eess.*", ["2605.00003"]),
        ("submittedDate:[202605040000 TO 202605082359]", ["2605.00001", "2605.00002", "2605.00003"]),
        ("submittedDate:[20260505 TO 20260508]", ["2605.00002", "2605.00003"]),
        ("cat:cs.CV AND submittedDate:[202605050000 TO 202605082359]", ["2605.00002"]),
        ("cat:cs.CV ANDNOT ti:diffusion", ["2605.00002"]),
        ("ti:speech OR ti:random", ["2605.00003", "2605.00004"]),
        ("(cat:cs.CV OR cat:eess.AS) AND submittedDate:[202605050000 TO 202605092359]", ["2605.00002", "2605.00003"]),
        ('ti:"talking head"', ["2605.00002"]),
        ('ti:"head talking"', []),
        ("abs:portraits", ["2605.00002"]),
        ("au:turing AND ti:graphs", ["2605.00004"]),
        ("all:speech", ["2605.00002", "2605.00003"]),
        ("id:2605.00003v1", ["2605.00003"]),
        ("ti:audio ti:segmentation", ["2605.00001"]),  # adjacent terms are ANDed
    ],
)
def test_query_semantics(query: str, expected: list[str]) -> None:
    assert _ids(query) == expected


@pytest.mark.parametrize(
    "query",
    ["", "(cat:cs.CV", "cat:cs.CV AND", "submittedDate:[2026 TO 2027]", "xx:foo", "cat:cs.CV )", "submittedDate:foo"],
)
def test_malformed_queries_raise(query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)


def test_date_from_id_handles_both_id_styles() -> None:
    assert str(date_from_id("2605.04045")) == "2026-05-01"
    assert str(date_from_id("hep-th/9901001")) == "1999-01-01"
    assert date_from_id("not-an-id") is None
