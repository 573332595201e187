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
    how many labeled papers the model trained on, the per-section counts, and what bounds the precision: of
    the ``called_av`` papers called ``av``, how many no label file names (each counted as a false alarm in
    the figures' precision, although audio-visual papers are kept out of the shared labels) and how many are
    labeled audio-visual, from which the precision's ceiling and the labeled papers' precision follow."""

    figures: Figures
    labeled: int
    trained_on: int
    sections: dict[str, SectionCount]
    called_av: int
    called_av_unlabeled: int
    called_av_right: int

    @property
    def precision_ceiling(self) -> float | None:
        """The precision were every unlabeled paper called ``av`` audio-visual (the figures' precision is the
        floor); None where nothing was called ``av``."""
        return round((self.called_av_right + self.called_av_unlabeled) / self.called_av, 4) if self.called_av else None

    @property
    def labeled_precision(self) -> float | None:
        """The precision on the labeled papers alone; None where none of them was called ``av``."""
        called_labeled = self.called_av - self.called_av_unlabeled
        return round(self.called_av_right / called_labeled, 4) if called_labeled else None

    def to_json(self) -> dict[str, Any]:
        """The JSON form: the month's figures with the counts and the bounds of its precision beside them."""
        return {
            **self.figures.to_json(),
            "labeled": self.labeled,
            "trained_on": self.trained_on,
            "sections": {name: asdict(count) for name, count in self.sections.items()},
            "called_av": self.called_av,
            "called_av_unlabeled": self.called_av_unlabeled,
            "called_av_right": self.called_av_right,
            "precision_ceiling": self.precision_ceiling,
            "labeled_precision": self.labeled_precision,
        }


def _number(value: float | None) -> str:
    """A figure to three places, or '-' where it could not be measured."""
    return "-" if value is None else f"{value:.3f}"


_RELEVANCE_HEADING = "av precision / recall / F1"
_HEADER = f"{_RELEVANCE_HEADING}  section  subsection  technique"


def _scores(figures: Figures) -> str:
    """``av`` precision / recall / F1 and the three macro-F1s, in the columns of :data:`_HEADER`."""
    relevance = figures.relevance
    relevance_cell = f"{_number(relevance.precision)} / {_number(relevance.recall)} / {_number(relevance.f1)}"
    return (
        f"{relevance_cell:<{len(_RELEVANCE_HEADING)}}  {_number(figures.section.macro_f1):>7}  "
        f"{_number(figures.subsection.macro_f1):>10}  {_number(figures.technique.macro_f1):>9}"
    )


_SPREAD_FIGURES = ("relevance_f1", "section", "subsection", "technique")


def _baseline_row(heading: str, data: dict[str, Any]) -> str:
    """The baseline's figures (JSON form) as the row below the model's, under a table whose first columns are
    ``heading``."""
    return f"{'  baseline':<{len(heading)}}  {_scores(Figures.from_json(data))}"


def _spread_line(name: str, spread: dict[str, dict[str, Any]]) -> str:
    """One subset's (or month's) :class:`Spread` of the headline figures, as 'mean (lowest-highest)'."""
    parts = []
    for figure in _SPREAD_FIGURES:
        value = Spread(**spread[figure])
        shown = "-" if value.mean is None else f"{value.mean:.3f} ({_number(value.low)}-{_number(value.high)})"
        parts.append(f"{figure.replace('_', ' ')} {shown}")
    return f"  {name:<18} " + ", ".join(parts)


def _seeds_heading(fold_seeds: dict[str, Any]) -> str:
    seeds = fold_seeds["seeds"]
    return f"over fold seeds {seeds[0]}-{seeds[-1]}: mean (lowest-highest)"


def _wrapped(items: list[str], width: int = 100) -> list[str]:
    """``items`` separated by commas in indented lines of at most ``width`` characters, never cut inside one."""
    rows: list[list[str]] = [[]]
    for item in items:
        if rows[-1] and len("  " + ", ".join([*rows[-1], item]) + ",") > width:
            rows.append([])
        rows[-1].append(item)
    return ["  " + ", ".join(row) + ("," if number < len(rows) - 1 else "") for number, row in enumerate(rows)]


def evaluation_text(result: dict[str, Any]) -> str:
    """``avi eval``'s result (:func:`classify.evaluate.evaluation_result`, with ``fold_seeds`` when measured)
    as a table for the terminal: per subset the model's figures, the baseline's below them."""
    counts_heading = f"{'subset':<20} {'papers':>6}"
    lines = [result["protocol"], "", f"{counts_heading}  {_HEADER}"]
    for name, data in result["model"].items():
        figures = Figures.from_json(data)
        lines.append(f"{name:<20} {figures.n:>6}  {_scores(figures)}")
        if name in result.get("baseline", {}):
            lines.append(_baseline_row(counts_heading, result["baseline"][name]))
    line = f"calibration error {_number(Reliability.from_json(result['calibration']).expected_calibration_error)}"
    if "label_calibration" in result:
        named = Reliability.from_json(result["label_calibration"]).expected_calibration_error
        line += f", of named labels {_number(named)}"
    lines += ["", line]
    if "fold_seeds" in result:
        for measured in ("model", "baseline"):
            if measured in result["fold_seeds"]:
                lines += ["", f"{measured} {_seeds_heading(result['fold_seeds'])}"]
                lines += [_spread_line(name, spread) for name, spread in result["fold_seeds"][measured].items()]
    return "\n".join(lines)


def _precision_bounds(month: str, model: dict[str, Any]) -> str:
    """How many of a month's ``av`` calls are on unlabeled papers, and what that leaves of the precision."""
    return (
        f"{month}: {model['called_av_unlabeled']} of the {model['called_av']} papers called audio-visual are "
        f"unlabeled: precision {_number(model['relevance']['precision'])} if none of them is audio-visual, "
        f"{_number(model['precision_ceiling'])} if all are; {_number(model['labeled_precision'])} on the labeled "
        "papers alone"
    )


def months_text(result: dict[str, Any]) -> str:
    """``avi eval --month``'s result (:func:`classify.evaluate.leave_months_out`) as a table for the terminal:
    per month the model's figures (the baseline's below them), then the papers the report would count per
    section against the labeled ones, and the fold seeds' spread when measured."""
    counts_heading = f"{'month':<10} {'papers':>6} {'labeled':>7} {'trained on':>10}"
    lines = [result["protocol"], "", f"{counts_heading}  {_HEADER}"]
    for month, entry in result["months"].items():
        model = entry["model"]
        figures = Figures.from_json(model)
        lines.append(f"{month:<10} {figures.n:>6} {model['labeled']:>7} {model['trained_on']:>10}  {_scores(figures)}")
        if "baseline" in entry:
            lines.append(_baseline_row(counts_heading, entry["baseline"]))
    for month, entry in result["months"].items():
        tallies = {section: SectionCount(**count) for section, count in entry["model"]["sections"].items()}
        counts = [f"{section} {tally.predicted}/{tally.labeled}" for section, tally in tallies.items()]
        lines += ["", _precision_bounds(month, entry["model"])]
        lines += [f"{month}: audio-visual papers per section, counted / labeled"]
        lines += _wrapped(counts)
        if "fold_seeds" in entry:
            lines += [f"{month} {_seeds_heading(entry['fold_seeds'])}"]
            lines.append(_spread_line("model", entry["fold_seeds"]["model"]))
    return "\n".join(lines)
