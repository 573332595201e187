"""Emerging topics: clusters of low-fit papers named by what sets them apart from the month's other papers."""

from __future__ import annotations

from reports.topics import find_topics

_COMMON = "audio video multimodal model audio video multimodal model"


def _papers() -> list[tuple[str, str, str]]:
    # one cluster written in the field's generic words, as many low-fit papers are, the other not
    laughter = [f"laughter segmentation acoustic laughter {word}" for word in ("corpus", "detector", "cues")]
    hands = [f"{_COMMON} egocentric hand pose egocentric {word}" for word in ("grasp", "contact", "tracking")]
    return [(f"2603.0000{index}", text[:40], text) for index, text in enumerate(laughter + hands)]


def test_topics_are_named_by_their_own_words_not_the_fields() -> None:
    reference = [f"{_COMMON} generation benchmark {index}" for index in range(20)]
    topics = find_topics(_papers(), [], reference)
    names = sorted(" / ".join(topic.terms) for topic in topics)
    assert len(topics) == 2 and [len(topic.papers) for topic in topics] == [3, 3]
    assert names[0].startswith("egocentric") and names[1].startswith("laughter")
    assert not any(word in topic.terms for topic in topics for word in ("audio", "video", "multimodal", "model"))
    # without the month's other papers to stand apart from, the field's own words name the clusters
    bare = find_topics(_papers(), [])
    assert any(word in topic.terms for topic in bare for word in ("audio", "video", "multimodal", "model"))


def test_earlier_papers_like_a_topic_say_whether_it_grew() -> None:
    earlier = [("laughter segmentation acoustic", "earlier", months) for months in (1, 2, 5)]
    topics = {topic.terms[0]: topic for topic in find_topics(_papers(), earlier, [_COMMON])}
    assert (topics["laughter"].earlier_recent, topics["laughter"].earlier_before) == (2, 1)
    assert (topics["egocentric"].earlier_recent, topics["egocentric"].earlier_before) == (0, 0)
    assert find_topics(_papers()[:2], []) == []  # too few papers to cluster


def test_a_name_is_shared_by_the_clusters_papers_and_says_each_word_once() -> None:
    papers = _papers()
    arxiv_id, title, text = papers[0]
    papers[0] = (arxiv_id, title, f"{text} limssr limssr limssr limssr limssr")  # one paper's acronym, repeated
    topics = find_topics(papers, [], [_COMMON])
    laughter = next(topic for topic in topics if "laughter" in topic.terms)
    assert "limssr" not in laughter.terms
    for topic in topics:
        words = [word for term in topic.terms for word in term.split()]
        assert len(words) == len(set(words)), topic.terms


def test_papers_that_share_no_term_are_still_named() -> None:
    papers = [
        ("2603.00001", "a", "laughter corpus"),
        ("2603.00002", "b", "egocentric grasp"),
        ("2603.00003", "c", "sonar fishing"),
    ]
    [topic] = find_topics(papers, [], [_COMMON])
    assert topic.terms and len(topic.papers) == 3
