"""Labeled papers for training and evaluation: label files joined with corpus text."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from classify.taxonomy import RELEVANCE_CLASSES, Taxonomy
from extract.corpus import corpus_rows_by_id, iter_corpus, iter_jsonl

logger = logging.getLogger(__name__)

JUDGED_SOURCE = "judged"  # label files in a folder of this name hold stream papers judged by reading
# flags with which a curated list doubts its own row (prefixes: a flag may carry a suffix)
DOUBT_FLAGS = ("weak_av_evidence_in_title_abstract", "av_label_but_text_not_av", "from_mixed_heading_only")
LABEL_ROW_KEYS = ("arxiv_id", "relevance", "labels")  # what every row of a label file carries


@dataclass(frozen=True)
class LabeledPaper:
    """One paper with its gold relevance and labels, and the text the classifier sees."""

    arxiv_id: str
    title: str
    abstract: str | None
    relevance: str
    labels: tuple[str, ...]
    source: str
    flags: tuple[str, ...] = field(default=())
    confidence: str = "high"
    relevance_known: bool = True  # False: the example trains its labels only (a technique's description)

    @property
    def has_abstract(self) -> bool:
        """False for the title-only rows (most curated positives): they also train as title only."""
        return bool(self.abstract)

    @property
    def doubted_by_its_list(self) -> bool:
        """True when the label file flags the row as doubtful (weak audio-visual evidence, a mixed heading)."""
        return any(flag.startswith(DOUBT_FLAGS) for flag in self.flags)

    @property
    def label_is_confident(self) -> bool:
        """True unless the paper was judged with low confidence or its list doubts the row."""
        return self.confidence != "low" and not self.doubted_by_its_list


def paper_text(title: str, abstract: str | None) -> str:
    """The text a paper is embedded and classified by: its title, then its abstract when there is one."""
    title = " ".join(title.split())
    return f"{title}. {' '.join(abstract.split())}" if abstract else title


def files_fingerprint(paths: Iterable[Path]) -> str:
    """Hash of the label files' bytes, stored with each model trained on them."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def load_labeled_papers(label_files: list[Path], corpus_files: list[Path], taxonomy: Taxonomy) -> list[LabeledPaper]:
    """Label rows joined with their corpus text; rows whose paper has no text are skipped with a warning.

    A row may carry its own ``title`` (and ``abstract``), read when the corpus files lack the paper: a file of
    held-out papers then needs no corpus beside it.

    A later label file's row for the same paper replaces an earlier one, so a file of corrections can be
    listed last.
    """
    known = set(taxonomy.label_ids) | {"none"}
    rows: dict[str, tuple[dict, str]] = {}
    for path in label_files:
        for row in iter_jsonl(path):
            missing = [key for key in LABEL_ROW_KEYS if key not in row]
            if missing:
                why = " (a paper named by its title alone has no corpus text to join)" if "title" in row else ""
                raise ValueError(f"{path}: a label row lacks {', '.join(missing)}{why}: {str(row)[:120]}")
            unknown = set(row["labels"]) - known
            if unknown:
                raise ValueError(f"{path}: {row['arxiv_id']} has labels outside the taxonomy: {sorted(unknown)}")
            if row["relevance"] not in RELEVANCE_CLASSES:
                raise ValueError(f"{path}: {row['arxiv_id']} has relevance {row['relevance']!r}")
            rows[row["arxiv_id"]] = (row, JUDGED_SOURCE if path.parent.name == JUDGED_SOURCE else path.stem)
    corpus = corpus_rows_by_id(corpus_files, set(rows))
    papers: list[LabeledPaper] = []
    for arxiv_id, (row, source) in rows.items():
        text = next((candidate for candidate in (corpus.get(arxiv_id, {}), row) if candidate.get("title")), None)
        if text is None:
            continue
        papers.append(
            LabeledPaper(
                arxiv_id=arxiv_id,
                title=text["title"],
                abstract=text.get("abstract"),
                relevance=row["relevance"],
                labels=tuple(label for label in row["labels"] if label != "none"),
                source=row.get("label_source") or source,
                flags=tuple(row.get("flags") or ()),
                confidence=row.get("confidence", "high"),
            )
        )
    skipped = len(rows) - len(papers)
    if skipped:
        logger.warning("%d labeled papers have no text in the corpus files and are skipped", skipped)
    return papers


def unlabeled_texts(corpus_files: list[Path], labeled_ids: set[str], limit: int) -> list[str]:
    """Up to ``limit`` texts of corpus papers with an abstract and no label: a fixed quarter of them, chosen by
    a hash of the identifier (the same sample on every run), read in the corpus files' order."""
    texts: list[str] = []
    for row in iter_corpus(corpus_files):
        arxiv_id = row.get("arxiv_id", "")
        if arxiv_id in labeled_ids or not row.get("title") or not row.get("abstract"):
            continue
        if hashlib.sha256(arxiv_id.encode()).digest()[0] % 4 == 0:
            texts.append(paper_text(row["title"], row["abstract"]))
            if len(texts) == limit:
                break
    return texts


TAXONOMY_SOURCE = "taxonomy"
_TAXONOMY_EXAMPLE_RELEVANCE = {"task": "av", "context": "context", "technique": "context"}


def taxonomy_papers(taxonomy: Taxonomy) -> list[LabeledPaper]:
    """The taxonomy's own words as labeled examples: for every label, its name as a title with its description
    and key terms as the abstract, and each key term alone as a title.

    Rare labels have a handful of labeled papers; their descriptions add what the survey means by them
    (section macro-F1 +0.05, technique +0.05 in cross-validation, docs/classifier.md). Task examples are
    ``av`` and context examples ``context``; a technique's description says nothing about whether a paper
    is audio-visual, so technique examples train their label only (``relevance_known`` is False).
    """
    papers = []
    for label in taxonomy.labels:
        relevance = _TAXONOMY_EXAMPLE_RELEVANCE.get(label.kind)
        if relevance is None:
            continue
        terms = ", ".join(label.key_terms)
        description = f"{label.description} Key terms: {terms}." if terms else label.description
        texts = [(label.name, description)] + [(term, None) for term in label.key_terms]
        papers += [
            LabeledPaper(
                f"{TAXONOMY_SOURCE}:{label.id}" + (f":{index - 1}" if index else ""),
                title,
                abstract,
                relevance,
                (label.id,),
                TAXONOMY_SOURCE,
                relevance_known=label.kind != "technique",
            )
            for index, (title, abstract) in enumerate(texts)
        ]
    return papers


ANALYST_SOURCE = "analyst"


def merge_analyst_labels(
    seed: list[LabeledPaper], analyst_rows: Iterable[tuple[str, str, list[str], str, str | None]]
) -> list[LabeledPaper]:
    """Seed papers with the analysts' decisions on top: an analyst's row replaces the seed row of its paper.

    ``analyst_rows`` are (arxiv_id, relevance, labels, title, abstract), as the warehouse returns them.
    """
    analysts = {
        arxiv_id: LabeledPaper(
            arxiv_id=arxiv_id,
            title=title,
            abstract=abstract,
            relevance=relevance,
            labels=tuple(label for label in labels if label != "none"),
            source=ANALYST_SOURCE,
        )
        for arxiv_id, relevance, labels, title, abstract in analyst_rows
    }
    return [paper for paper in seed if paper.arxiv_id not in analysts] + list(analysts.values())


def analyst_fingerprint(analyst_rows: Iterable[tuple]) -> str:
    """Hash of the analysts' decisions, part of a model's labels hash."""
    digest = hashlib.sha256()
    for arxiv_id, relevance, labels, *_ in analyst_rows:
        digest.update(f"{arxiv_id}\0{relevance}\0{','.join(sorted(labels))}\n".encode())
    return digest.hexdigest()[:12]
