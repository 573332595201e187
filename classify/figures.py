"""The evaluation figures as typed values, and their one JSON form.

:mod:`classify.evaluate` computes them; the registry stores a model's :class:`Evaluation` in its
``meta.json`` and the warehouse in ``models.metrics`` (the layout ``docs/schema.md`` documents, read by
the report's queries with JSON paths); ``avi eval --json`` prints them. Every reader goes through these
classes, so a key is spelled here and nowhere else in Python.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class LabelScore:
    """Precision, recall and F1 of one label, and how many papers carry it in gold."""

    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class MacroScores:
    """The macro-averaged F1 over the labels with enough gold positives (None when none has), and each
    label's own scores."""

    macro_f1: float | None
    per_label: dict[str, LabelScore] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MacroScores:
        """Read back what :meth:`Figures.to_json` wrote."""
        per_label = {label: LabelScore(**scores) for label, scores in data.get("per_label", {}).items()}
        return cls(data["macro_f1"], per_label)


@dataclass(frozen=True)
class RelevanceScores:
    """Precision, recall and F1 of the class ``av``."""

    precision: float
    recall: float
    f1: float


@dataclass(frozen=True)
class Figures:
    """Every figure for one set of papers: relevance, section, subsection and technique scores."""

    n: int
    relevance: RelevanceScores
    section: MacroScores
    subsection: MacroScores
    technique: MacroScores

    def to_json(self) -> dict[str, Any]:
        """The JSON form: plain nested dicts."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Figures:
        """Read back what :meth:`to_json` wrote."""
        return cls(
            data["n"],
            RelevanceScores(**data["relevance"]),
            MacroScores.from_json(data["section"]),
            MacroScores.from_json(data["subsection"]),
            MacroScores.from_json(data["technique"]),
        )

    def headline(self) -> dict[str, float | None]:
        """The figures variants are compared by: relevance precision, recall and F1, the three macro-F1s."""
        return {
            "relevance_precision": self.relevance.precision,
            "relevance_recall": self.relevance.recall,
            "relevance_f1": self.relevance.f1,
            "section": self.section.macro_f1,
            "subsection": self.subsection.macro_f1,
            "technique": self.technique.macro_f1,
        }

    def summary(self) -> str:
        """One line: relevance F1 and the three macro-F1s."""
        return (
            f"relevance F1 {self.relevance.f1}, section macro-F1 {self.section.macro_f1}, "
            f"subsection {self.subsection.macro_f1}, technique {self.technique.macro_f1}"
        )


@dataclass(frozen=True)
class ReliabilityBin:
    """One band of scores: its range, how many decisions fall in it, their mean score and how often right."""

    scores: str
    n: int
    mean_score: float
    accuracy: float


@dataclass(frozen=True)
class Reliability:
    """How often decisions given with a score are right, per band of score, and the expected calibration
    error; for labels also the error over every label score, named or not."""

    bins: list[ReliabilityBin]
    expected_calibration_error: float
    expected_calibration_error_all_scores: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON form, without the all-scores error where it was not measured."""
        data = asdict(self)
        if self.expected_calibration_error_all_scores is None:
            del data["expected_calibration_error_all_scores"]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reliability:
        """Read back what :meth:`to_json` wrote."""
        return cls(
            [ReliabilityBin(**row) for row in data["bins"]],
            data["expected_calibration_error"],
            data.get("expected_calibration_error_all_scores"),
        )


@dataclass(frozen=True)
class Evaluation:
    """A model's figures on every subset of its labels under one protocol, with both reliability tables:
    what ``avi train`` stores with a model and ``avi eval`` prints."""

    protocol: str
    subsets: dict[str, Figures]
    calibration: Reliability
    label_calibration: Reliability | None

    def to_json(self) -> dict[str, Any]:
        """The stored layout: ``protocol``, one key per subset, ``calibration``, ``label_calibration``."""
        data: dict[str, Any] = {"protocol": self.protocol}
        data.update({name: figures.to_json() for name, figures in self.subsets.items()})
        data["calibration"] = self.calibration.to_json()
        if self.label_calibration is not None:
            data["label_calibration"] = self.label_calibration.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evaluation:
        """Read back what :meth:`to_json` wrote (models trained before label calibration was measured lack
        ``label_calibration``)."""
        reserved = {"protocol", "calibration", "label_calibration"}
        return cls(
            data["protocol"],
            {name: Figures.from_json(value) for name, value in data.items() if name not in reserved},
            Reliability.from_json(data["calibration"]),
            Reliability.from_json(data["label_calibration"]) if "label_calibration" in data else None,
        )

    def summary(self) -> str:
        """One line for the terminal: the protocol, the figures on all papers and the calibration errors."""
        calibration = f"calibration error {self.calibration.expected_calibration_error}"
        if self.label_calibration is not None:
            calibration += f", of named labels {self.label_calibration.expected_calibration_error}"
        return f"  {self.protocol}: {self.subsets['all'].summary()}, {calibration}"


@dataclass(frozen=True)
class Spread:
    """One figure over several fold seeds: its mean, lowest and highest value, and each seed's, in seed order
    (None where a seed had no label with enough gold positives to average)."""

    mean: float | None
    low: float | None
    high: float | None
    per_seed: list[float | None]


@dataclass(frozen=True)
class SectionCount:
    """Per section, the audio-visual papers the report would count against the labeled count."""

    predicted: int = 0
    labeled: int = 0


@dataclass(frozen=True)
class MonthFigures:
    """``avi eval --month``'s figures for one month: the month's scores, how many of its papers are labeled,
    how many labeled papers the model trained on, and the per-section counts."""

    figures: Figures
    labeled: int
    trained_on: int
    sections: dict[str, SectionCount]

    def to_json(self) -> dict[str, Any]:
        """The JSON form: the month's figures with the three counts beside them."""
        return {
            **self.figures.to_json(),
            "labeled": self.labeled,
            "trained_on": self.trained_on,
            "sections": {name: asdict(count) for name, count in self.sections.items()},
        }
