"""Known names counted, ambiguous ones guarded, new ones discovered where a paper introduces them."""

from __future__ import annotations

from extract.mentions import MentionDictionary, discover_introduced, find_mentions

DICTIONARY = MentionDictionary()


def _found(text: str) -> dict[str, tuple[str, int, bool]]:
    return {m.name: (m.kind, m.count, m.introduced) for m in find_mentions(text, DICTIONARY)}


def test_known_names_with_aliases_and_special_characters() -> None:
    found = _found(
        "We train on AudioSet and VGGSound, then fine-tune on AIST++ and report FID, FVD and the "
        "Fréchet Audio Distance. AIST++ again; VGGSound-Omni is not VGGSound."
    )
    assert found["AIST++"] == ("dataset", 2, False)
    assert found["FAD"] == ("metric", 1, False)
    assert found["VGGSound"][1] == 2  # the hyphenated VGGSound-Omni is its own name
    assert found["VGGSound-Omni"][1] == 1


def test_two_letter_metrics_need_metric_company() -> None:
    assert "IS" not in _found("THIS IS A TITLE IN CAPITALS")
    assert _found("We report FID and IS.")["IS"] == ("metric", 1, False)


def test_discovers_what_a_paper_introduces() -> None:
    assert discover_introduced(
        "In this paper, we introduce AV-Odyssey Bench, a comprehensive audio-visual benchmark. "
        "We also release a new dataset, named VGG-Foley2, for training. We propose SyncScore, a metric that "
        "measures audio-visual alignment."
    ) == {"AV-Odyssey Bench": "benchmark", "VGG-Foley2": "dataset", "SyncScore": "metric"}
    assert discover_introduced("We introduce a new method. The benchmark shows gains.") == {}
    found = _found("We present FoleyBench, the first large-scale benchmark for video-to-audio generation.")
    assert found["FoleyBench"] == ("benchmark", 1, True)
