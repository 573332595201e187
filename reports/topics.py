"""Emerging topics: audio-visual papers that fit no subsection well, clustered and named by their key terms.

TF-IDF over title + abstract and k-means; each cluster is named by the terms it uses far more than the
month's audio-visual papers as a whole (class-based TF-IDF among the clusters alone, as BERTopic names
topics, named them by the words every audio-visual paper uses: "audio", "video", "multimodal"). A cluster
"grew" when more earlier low-fit papers resemble it in the last three months than in the three before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.preprocessing import normalize

SIMILAR = 0.2  # cosine similarity to a cluster centre that counts an earlier paper as the same topic


@dataclass(frozen=True)
class Topic:
    """One cluster of low-fit papers of the month."""

    terms: list[str]
    papers: list[tuple[str, str]]  # (arxiv_id, title)
    earlier_recent: int  # similar low-fit papers in the 3 months before
    earlier_before: int  # and in the 3 months before those


def find_topics(
    month_papers: list[tuple[str, str, str]],
    earlier: list[tuple[str, str, int]],
    reference: Sequence[str] = (),
    max_topics: int = 5,
) -> list[Topic]:
    """Cluster the month's (id, title, text); ``earlier`` holds (text, title, months_back) of earlier low-fit ones,
    ``reference`` the texts of the month's other audio-visual papers, which the names must stand out from."""
    if len(month_papers) < 3:
        return []
    texts = [text for _, _, text in month_papers]
    vectorizer = TfidfVectorizer(stop_words="english", ngram_range=(1, 2), min_df=1, max_df=0.6, sublinear_tf=True)
    vectors = vectorizer.fit_transform(texts)
    count = max(1, min(max_topics, len(month_papers) // 3))
    labels = KMeans(n_clusters=count, n_init=10, random_state=0).fit_predict(vectors)
    centres = normalize(np.vstack([np.asarray(vectors[labels == k].mean(axis=0)) for k in range(count)]))
    names = _distinctive_terms(texts, labels, count, reference)
    earlier_vectors = vectorizer.transform([text for text, _, _ in earlier]) if earlier else None
    topics = []
    for k in range(count):
        members = [
            (arxiv_id, title) for (arxiv_id, title, _), label in zip(month_papers, labels, strict=True) if label == k
        ]
        recent = before = 0
        if earlier_vectors is not None:
            similarity = np.asarray(earlier_vectors @ centres[k]).ravel()
            for (_, _, months_back), value in zip(earlier, similarity, strict=True):
                if value >= SIMILAR:
                    recent += months_back <= 3
                    before += months_back > 3
        topics.append(Topic(names[k], members, recent, before))
    return sorted(topics, key=lambda topic: len(topic.papers), reverse=True)


def _distinctive_terms(
    texts: list[str], labels: np.ndarray, count: int, reference: Sequence[str], top: int = 4
) -> list[list[str]]:
    """The terms each cluster uses far more than the month's audio-visual papers as a whole: a term's share of
    the cluster's words times the log of that share over its share of all the words, the clusters' and the
    reference's (add-one smoothed), i.e. its part in how far the cluster's words diverge from the month's.
    A name is shared by the cluster: a term only one of its papers uses (a method's acronym, repeated through
    its abstract) does not name a cluster of several, and a term sharing a word with a better one is left out
    ("cross modal" after "cross")."""
    joined = [" ".join(text for text, label in zip(texts, labels, strict=True) if label == k) for k in range(count)]
    counter = CountVectorizer(stop_words="english", ngram_range=(1, 2), min_df=1)
    frequencies = counter.fit_transform([*joined, " ".join(reference)]).toarray().astype(float)
    share = frequencies[:count] / np.maximum(frequencies[:count].sum(axis=1, keepdims=True), 1)
    overall = (frequencies.sum(axis=0) + 1) / (frequencies.sum() + frequencies.shape[1])
    scores = share * np.log(np.maximum(share, 1e-12) / overall)
    used_by = (counter.transform(texts) > 0).astype(int)
    vocabulary = counter.get_feature_names_out()
    names = []
    for k in range(count):
        members = labels == k
        papers_using = np.asarray(used_by[members].sum(axis=0)).ravel()
        # shared by the cluster's papers, and used more there than in the month as a whole
        shared = (papers_using >= min(2, int(members.sum()))) & (scores[k] > 0)
        chosen: list[str] = []
        for index in np.argsort(-np.where(shared, scores[k], -np.inf)):
            if len(chosen) == top or not shared[index]:
                break
            words = set(vocabulary[index].split())
            if not any(words & set(term.split()) for term in chosen):
                chosen.append(vocabulary[index])
        # papers that share no distinctive term still need a name: their most distinctive terms, as they are
        names.append(chosen or [vocabulary[index] for index in np.argsort(-scores[k])[:top]])
    return names
