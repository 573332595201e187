"""The survey's taxonomy, read from a YAML file so another survey needs only another file."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import yaml

from core.records import is_arxiv_id

RELEVANCE_CLASSES = ("av", "context", "none")


@dataclass(frozen=True)
class Label:
    """One label of the taxonomy."""

    id: str
    kind: str  # task | technique | context | none
    name: str
    description: str
    key_terms: tuple[str, ...]
    hub_heading: str | None = None  # the heading the survey's hub README lists this label's papers under

    @property
    def section(self) -> str | None:
        """The section a task label belongs to (first two parts of its id), else None."""
        return section_of(self.id)

    @property
    def prompt(self) -> str:
        """Text that describes the label, for zero-shot similarity."""
        return f"{self.name}. {self.description} {', '.join(self.key_terms)}".strip()


def section_of(label_id: str) -> str | None:
    """``generation.cross_modal`` for ``generation.cross_modal.video_to_audio``; None for a technique or context
    label and for what is no label's dotted id (``none``, the warehouse's ``relevance:av``)."""
    if "." not in label_id or label_id.startswith(("context.", "technique.")):
        return None
    return ".".join(label_id.split(".")[:2])


def is_task_label(label_id: str) -> bool:
    """True for audio-visual task labels (perception, generation, interaction)."""
    return section_of(label_id) is not None


def is_technique_label(label_id: str) -> bool:
    """True for foundation-technique labels."""
    return label_id.startswith("technique.")


@dataclass(frozen=True)
class Taxonomy:
    """Labels, sections and relevance classes of one survey."""

    path: Path
    title: str
    labels: tuple[Label, ...]
    sections: dict[str, str]
    relevance: dict[str, str]
    survey_arxiv_id: str | None = None  # the survey's own paper: never a paper it should add
    modalities: dict[str, tuple[str, ...]] = field(default_factory=dict)  # words that name each modality

    @cached_property
    def by_id(self) -> dict[str, Label]:
        """Every label (sections, subsections, techniques) by its dotted id."""
        return {label.id: label for label in self.labels}

    @cached_property
    def names(self) -> dict[str, str]:
        """Each label's display name by its id."""
        return {label.id: label.name for label in self.labels}

    @property
    def label_ids(self) -> list[str]:
        """Every label id except ``none``."""
        return [label.id for label in self.labels if label.kind != "none"]

    @cached_property
    def fingerprint(self) -> str:
        """Hash of the taxonomy file, stored with every model trained on it."""
        return hashlib.sha256(self.path.read_bytes()).hexdigest()[:12]


def load_taxonomy(path: Path) -> Taxonomy:
    """Read and validate a taxonomy file; raises ValueError with the offending entry."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ValueError(f"{path}: not valid YAML{where}: {getattr(error, 'problem', None) or error}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a taxonomy file is a mapping with labels, relevance and survey")
    labels: list[Label] = []
    for entry in raw.get("labels", []):
        try:
            label = Label(
                id=entry["id"],
                kind=entry["kind"],
                name=entry["name"],
                description=entry["description"],
                key_terms=tuple(entry.get("key_terms") or ()),
                hub_heading=entry.get("hub_heading"),
            )
        except KeyError as missing:
            raise ValueError(f"{path}: label {entry!r} lacks {missing}") from None
        if label.hub_heading is not None and not isinstance(label.hub_heading, str):
            raise ValueError(f"{path}: label {label.id} has a hub_heading that is not text: {label.hub_heading!r}")
        if label.kind not in {"task", "technique", "context", "none"}:
            raise ValueError(f"{path}: label {label.id} has unknown kind {label.kind!r}")
        labels.append(label)
    ids = [label.id for label in labels]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: duplicate label ids")
    relevance = raw.get("relevance") or {}
    if tuple(relevance) != RELEVANCE_CLASSES:
        raise ValueError(f"{path}: relevance must list {RELEVANCE_CLASSES}")
    survey = raw.get("survey") or {}
    survey_arxiv_id = survey.get("arxiv_id")
    # a string: YAML reads an unquoted 2605.04050 as the number 2605.0405
    if survey_arxiv_id is not None and not (isinstance(survey_arxiv_id, str) and is_arxiv_id(survey_arxiv_id)):
        raise ValueError(f"{path}: survey.arxiv_id {survey_arxiv_id!r} is not an arXiv id in quotes ('2605.04045')")
    modalities = raw.get("modalities") or {}
    if not isinstance(modalities, dict) or not all(
        isinstance(terms, list) and terms and all(isinstance(term, str) and term for term in terms)
        for terms in modalities.values()
    ):
        raise ValueError(f"{path}: modalities must map each modality's name to a list of words that name it")
    return Taxonomy(
        path=path,
        title=survey.get("title", path.stem),
        labels=tuple(labels),
        sections=dict(raw.get("sections") or {}),
        relevance=relevance,
        survey_arxiv_id=survey_arxiv_id,
        modalities={name: tuple(terms) for name, terms in modalities.items()},
    )
