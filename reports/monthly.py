"""The monthly report: what the stream brought to each part of the survey, in five minutes of reading.

Every number comes from a query printed in the report's appendix (:mod:`reports.queries`) and runnable with
``avi sql``; the two computed parts (emerging topics, :mod:`reports.topics`, and the ranking of the
survey-update list, :mod:`reports.ranking`) say how they are computed from the rows those queries return.
Writes ``report.md``, a self-contained ``report.html`` (charts embedded) and the charts as PNG.
"""

from __future__ import annotations

import logging
from collections import defaultdict, namedtuple
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from classify.labels import paper_text
from classify.taxonomy import Taxonomy, is_task_label, load_taxonomy
from core.settings import Settings
from core.wording import counted
from reports.charts import bar_chart, line_chart
from reports.document import Code, Document, Heading, Image, Links, Numbers, Paragraph, Table, to_html, to_markdown
from reports.hub import DEFAULT_MIN_SCORE, Hub, HubPatch, read_hub, write_hub_patch
from reports.queries import month_last_day, month_offset, parse_month, report_queries
from reports.ranking import Candidate, rank_candidates, ranking_rule
from reports.text import first_sentence
from reports.topics import find_topics
from warehouse.db import Warehouse, open_for_reading

logger = logging.getLogger(__name__)

HUB_PATCH_FOLDER = "hub-patch"
UPDATE_LIST_SIZE = 3  # candidates per subsection
TRAILING_MONTHS = 11  # months before the report's month that growth is measured against
# a month counts as held when the warehouse's history reaches within this many days of both its edges: a month
# may begin or end on a weekend without papers
EDGE_DAYS = 4
NO_HISTORY = "no history"


@dataclass(frozen=True)
class History:
    """The stretch of submission days the warehouse holds up to the report's month (the ``history`` query):
    what the report may compare, and what it must say it cannot."""

    starts: date | None
    ends: date | None

    def held_days(self, month: str) -> tuple[date, date] | None:
        """The first and last day of ``month`` inside the history, or None when it holds none of them."""
        first, last = _month_days(month)
        if self.starts is None or self.ends is None or self.starts > last or self.ends < first:
            return None
        return max(first, self.starts), min(last, self.ends)

    def holds(self, month: str) -> bool:
        """Whether the whole of ``month`` is held (give or take a weekend at either edge)."""
        held, (first, last) = self.held_days(month), _month_days(month)
        return held is not None and (held[0] - first).days <= EDGE_DAYS and (last - held[1]).days <= EDGE_DAYS

    @property
    def start_in_words(self) -> str:
        """Where the history starts, as the report says it when a comparison has none."""
        return f"history starts {self.starts}" if self.starts else "the warehouse holds no papers up to this month"

    def in_words_for(self, month: str) -> str:
        """Where the history lies, as the report says it when ``month`` lacks a comparison: where it starts,
        or, for a month after its end, its whole span (the reason then is where it ends)."""
        if self.ends is not None and self.ends < parse_month(month):
            return f"history runs {self.starts} to {self.ends}"
        return self.start_in_words


def _month_days(month: str) -> tuple[date, date]:
    first = parse_month(month)
    return first, month_last_day(first)


@dataclass(frozen=True)
class ReportContext:
    """What every part of the report reads: the taxonomy, the query rows, the months and the history."""

    taxonomy: Taxonomy
    rows: dict[str, list[Any]]  # per query, its rows as named tuples of its columns
    months: list[str]  # the trailing months and the report's month last, as YYYY-MM
    year_ago: str
    out_dir: Path
    history: History
    hub_patch: HubPatch | None = None  # the month's patch of the survey's hub README, written beside the report
    feeds_dir: Path | None = None

    @property
    def this(self) -> str:
        """The report's month, YYYY-MM."""
        return self.months[-1]

    @property
    def previous(self) -> str:
        """The month before the report's, YYYY-MM, which growth is measured against."""
        return self.months[-2]

    @property
    def month_held(self) -> bool:
        """Whether the warehouse holds any day of the report's month: a month it holds none of has nothing to
        measure, and its zeros are no fall."""
        return self.history.held_days(self.this) is not None

    @cached_property
    def held_before(self) -> list[str]:
        """The trailing months the warehouse holds whole: what averages and trends are measured over."""
        return [month for month in self.months[:-1] if self.history.holds(month)]


def _change(now: int, before: int | None) -> str:
    if before is None:
        return NO_HISTORY
    if before == 0:
        return "none before"
    return f"{(now - before) / before:+.0%}"


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _named_rows(name: str, columns: list[str], rows: list[tuple]) -> list[Any]:
    """A query's rows as named tuples whose fields are its columns (``row.papers``): the SQL names each
    value once, and the parts read them by that name."""
    row_type = namedtuple(f"{name}_row", columns)
    return [row_type(*row) for row in rows]


def _quality_sentence(rows: list[Any]) -> str:
    """How far to trust the labels, in the model's own cross-validated figures (or that they are unmeasured)."""
    if not rows:
        return (
            "The model carries no cross-validated figures (the zero-shot classifier, or a model trained with "
            "AVI_TRAIN_CV_FOLDS=0): how good its labels are has not been measured."
        )
    figures = rows[0]._asdict()
    judged_f1, calibration = figures["judged_relevance_f1"], figures["label_calibration_error"]
    judged = f"; {judged_f1:.2f} on the stream's judged borderline papers" if judged_f1 is not None else ""
    # models trained before named labels' calibration was measured lack it
    trust = (
        f"; a named label's score is on average {calibration:.2f} from how often such labels are right"
        if calibration is not None
        else ""
    )
    return (
        f"How far to trust the labels, from the model's {figures['protocol']} at training time: audio-visual papers "
        f"are found with precision {_figure(figures['relevance_precision'])} and recall "
        f"{_figure(figures['relevance_recall'])} (F1 {_figure(figures['relevance_f1'])}{judged}); section macro-F1 "
        f"{_figure(figures['section_macro_f1'])}, subsection {_figure(figures['subsection_macro_f1'])}, technique "
        f"{_figure(figures['technique_macro_f1'])}{trust}."
    )


def _headline(context: ReportContext) -> list:
    headline = {row.month: (row.screened, row.audio_visual) for row in context.rows["headline"]}
    screened, audio_visual = headline.get(context.this, (0, 0))
    share = f"{audio_visual / screened:.1%}" if screened else "n/a"
    history = context.history
    previous, year_ago = (
        headline.get(month, (0, 0))[1] if context.month_held and history.holds(month) else None
        for month in (context.previous, context.year_ago)
    )
    return [
        Numbers(
            [
                (str(screened), "papers screened"),
                (str(audio_visual), "audio-visual papers"),
                (share, "share of the stream"),
                (_change(audio_visual, previous), f"audio-visual vs {context.previous}"),
                (_change(audio_visual, year_ago), f"audio-visual vs {context.year_ago}"),
            ]
        ),
        *_history_notes(context, previous is None, year_ago is None),
    ]


def _history_notes(context: ReportContext, no_previous: bool, no_year_ago: bool) -> list:
    """What the headline cannot say for want of history, in words."""
    history, notes = context.history, []
    held = history.held_days(context.this)
    in_words = history.in_words_for(context.this)
    missing = [month for month, absent in ((context.previous, no_previous), (context.year_ago, no_year_ago)) if absent]
    if held is None:
        return [
            Paragraph(
                f"The warehouse holds no papers submitted in {context.this} ({in_words}): nothing to compare with "
                f"{' or '.join(missing)}."
            )
        ]
    if not history.holds(context.this):
        notes.append(
            f"The warehouse holds this month's papers submitted {held[0]} to {held[1]} only: its counts are partial."
        )
    if missing:
        notes.append(f"{in_words.capitalize()}: no comparison with {' or '.join(missing)}.")
    return [Paragraph(" ".join(notes))] if notes else []


def _sections(context: ReportContext, label_counts: dict[tuple[str, str], int]) -> list:
    taxonomy, this, names, held = context.taxonomy, context.this, context.taxonomy.names, context.held_before
    section_counts = {(row.month, row.section): row.papers for row in context.rows["sections"]}
    sections = [section for section in taxonomy.sections if not section.startswith("technique.")]

    def average(counts: dict[tuple[str, str], int], key: str) -> float | None:
        return sum(counts.get((month, key), 0) for month in held) / len(held) if held else None

    averages = {s: average(section_counts, s) for s in sections}
    chart = context.out_dir / "sections.png"
    bar_chart(
        chart,
        [taxonomy.sections[s] for s in sections],
        [section_counts.get((this, s), 0) for s in sections],
        [averages[s] or 0.0 for s in sections] if held else None,
        this,
        len(held),
    )
    parts: list = [Heading("What grew: sections and subsections"), Image(chart, "papers per section")]
    if len(held) < TRAILING_MONTHS:
        parts.append(
            Paragraph(
                f"Growth is measured against the monthly average of the {TRAILING_MONTHS} months before; the "
                f"warehouse holds {len(held)} of them whole ({context.history.start_in_words})"
                + (", so the averages are over those." if held else ": no growth to measure.")
            )
        )
    growth_rows = []
    for label in [label.id for label in taxonomy.labels if is_task_label(label.id)]:
        now, before = label_counts.get((this, label), 0), average(label_counts, label)
        if now or before:
            growth = (now - before) / before if before else None
            growth_rows.append((label, now, before, growth))
    growth_rows.sort(key=lambda row: (row[3] is None, -(row[3] or 0), -row[1]))
    measurable = [row for row in growth_rows if row[3] is not None and (row[1] >= 3 or row[2] >= 3)]
    if measurable:
        fastest, slowest = measurable[0], measurable[-1]
        parts.append(
            Paragraph(
                f"Fastest growing subsection: {names[fastest[0]]} ({counted(fastest[1], 'paper')} against "
                f"{fastest[2]:.1f} a month before, {fastest[3]:+.0%}). Most shrinking: {names[slowest[0]]} "
                f"({slowest[1]} against {slowest[2]:.1f}, {slowest[3]:+.0%})."
            )
        )
    parts.append(
        Table(
            ["subsection", f"papers {this}", f"monthly average, {counted(len(held), 'month')} before", "growth"],
            [
                [
                    names[label],
                    str(now),
                    NO_HISTORY if before is None else f"{before:.1f}",
                    NO_HISTORY if before is None else ("new" if growth is None else f"{growth:+.0%}"),
                ]
                for label, now, before, growth in growth_rows
            ],
        )
    )
    shown = [*held, this]
    if len(shown) < 2:
        return parts
    stacked = context.out_dir / "sections_by_month.png"
    line_chart(
        stacked,
        shown,
        {taxonomy.sections[s]: [section_counts.get((m, s), 0) for m in shown] for s in sections},
        "Audio-visual papers per section, by month of submission",
    )
    parts.append(Image(stacked, "papers per section by month"))
    return parts


def _techniques(context: ReportContext, label_counts: dict[tuple[str, str], int]) -> list:
    names, shown = context.taxonomy.names, [*context.held_before, context.this]
    techniques = [label.id for label in context.taxonomy.labels if label.kind == "technique"]
    technique_series = {
        names[t]: [label_counts.get((m, t), 0) for m in shown]
        for t in techniques
        if any(label_counts.get((m, t), 0) for m in shown)
    }
    heading = Heading("Technique trends")
    if not technique_series:
        return [heading, Paragraph(f"No technique labels in the {counted(len(shown), 'month')} held.")]
    parts: list = [heading]
    if len(shown) > 1:
        technique_chart = context.out_dir / "techniques.png"
        line_chart(technique_chart, shown, technique_series, "Papers per foundation technique, by month")
        parts.append(Image(technique_chart, "techniques by month"))
    previous_held = context.previous in context.held_before
    parts.append(
        Table(
            ["technique", context.previous, context.this, f"{counted(len(shown), 'month')} held"],
            [
                [name, str(values[-2]) if previous_held else NO_HISTORY, str(values[-1]), str(sum(values))]
                for name, values in sorted(technique_series.items(), key=lambda item: -item[1][-1])
            ],
        )
    )
    return parts


def _new_mentions(context: ReportContext) -> list:
    heading = Heading("New datasets, benchmarks and metrics")
    if not context.history.holds(context.year_ago):
        return [
            heading,
            Paragraph(
                "A name counts as new when no paper of the twelve months before named it; the warehouse does not hold "
                f"them ({context.history.start_in_words}), so no name is called new this month."
            ),
        ]
    if not context.rows["new_mentions"]:
        return [heading, Paragraph("No dataset, benchmark or metric was named for the first time this month.")]
    return [
        heading,
        Table(
            ["kind", "name", "papers", "introduced by"],
            [
                [
                    kind,
                    name,
                    str(papers),
                    f"{introduced_title} (arXiv {introduced_by})"
                    if introduced_by
                    else f"first named in arXiv {first_id}",
                ]
                for kind, name, papers, introduced_by, introduced_title, first_id in context.rows["new_mentions"]
            ],
        ),
    ]


def _emerging_topics(context: ReportContext) -> list:
    rows = context.rows
    low_fit = rows["low_fit"]
    month_low = [(r.arxiv_id, r.title, paper_text(r.title, r.abstract)) for r in low_fit if r.months_back == 0]
    earlier_low = [(paper_text(r.title, r.abstract), r.title, r.months_back) for r in low_fit if r.months_back > 0]
    topics = find_topics(month_low, earlier_low, [paper_text(r.title, r.abstract) for r in rows["fitting"]])
    six_months_held = all(month in context.held_before for month in context.months[-7:-1])
    fit = "fits" if len(month_low) == 1 else "fit"
    parts: list = [
        Heading("Emerging topics"),
        Paragraph(
            f"{counted(len(month_low), 'audio-visual paper')} this month {fit} no subsection well (no subsection's "
            "score reaches its threshold: each carries the nearest one because an audio-visual paper must carry "
            "one). Clustered on their titles and abstracts (TF-IDF, k-means) and named by terms that two or "
            "more of a cluster's papers use, far more than this month's audio-visual papers as a whole; 'earlier' "
            "counts similar low-fit papers of the three months before and the three before those"
            + ("." if six_months_held else f", which the warehouse does not hold ({context.history.start_in_words}).")
        ),
    ]
    for topic in topics:
        if six_months_held:
            trend = "grew" if topic.earlier_recent > topic.earlier_before else "did not grow"
            earlier = (
                f"earlier: {topic.earlier_recent} in the last 3 months, {topic.earlier_before} in the 3 before, so it "
                f"{trend}."
            )
        else:
            earlier = "earlier months not held."
        parts += [
            Heading(" / ".join(topic.terms), 3),
            Paragraph(f"{counted(len(topic.papers), 'paper')}; {earlier}"),
            Links([(title, f"https://arxiv.org/abs/{arxiv_id}", arxiv_id) for arxiv_id, title in topic.papers]),
        ]
    return parts


def _survey_update(context: ReportContext) -> list:
    exclusions = (
        "; not the survey itself, nor a paper its full text already cites." if context.taxonomy.survey_arxiv_id else "."
    )
    parts: list = [
        Heading("Papers the survey should add"),
        Paragraph(f"Per subsection, this month's papers ranked by {ranking_rule()}{exclusions}"),
    ]
    by_label: dict[str, list[Candidate]] = defaultdict(list)
    for label, arxiv_id, title, abstract, score, cited_by in context.rows["candidates"]:
        by_label[label].append(Candidate(arxiv_id, title, abstract, score, cited_by))
    patch = context.hub_patch
    if patch is not None:
        papers = len(patch.papers)
        parts.append(
            Paragraph(
                f"A ready patch of the survey's hub README adds the month's {counted(papers, 'audio-visual paper')} it "
                f"does not list yet under {len(patch.added)} of its headings "
                f"({counted(patch.lines_added, 'line')}, none removed): {HUB_PATCH_FOLDER}/README.md, "
                f"{HUB_PATCH_FOLDER}/hub.diff, and {HUB_PATCH_FOLDER}/PR.md as the pull request's text."
            )
        )
    if context.feeds_dir is not None:
        parts.append(
            Paragraph(
                f"Every night's new audio-visual papers: the Atom feeds in {context.feeds_dir} (audio-visual.atom, "
                "and one per section)."
            )
        )
    for label in [label.id for label in context.taxonomy.labels if label.id in by_label]:
        ranked = rank_candidates(by_label[label], UPDATE_LIST_SIZE)
        parts += [
            Heading(context.taxonomy.names[label], 3),
            Links(
                [
                    (
                        paper.title,
                        f"https://arxiv.org/abs/{paper.arxiv_id}",
                        f"{paper.arxiv_id}, score {paper.score:.2f}, cited by {paper.cited_by}: "
                        f"{first_sentence(paper.abstract)}",
                    )
                    for paper in ranked
                ]
            ),
        ]
    return parts


def _methods(context: ReportContext) -> list:
    methods = context.rows["methods"][0]
    return [
        Heading("Methods note"),
        Paragraph(
            f"Labels from model {methods.model_version} ({methods.kind}); papers are dated by submission. Full texts "
            f"read this month: {methods.texts_read}; extraction errors: {methods.extraction_errors}; papers still "
            f"without labels: {methods.unlabelled}. "
            "A subsection or technique counts a paper when its score passes that label's threshold (chosen by "
            "cross-validation when the model was trained); an audio-visual paper none of whose subsections passes "
            "counts under its best one, so that every audio-visual paper has a subsection, but is never proposed "
            "to the survey under it. " + _quality_sentence(context.rows["model_quality"])
        ),
    ]


def write_report(
    warehouse: Warehouse,
    taxonomy: Taxonomy,
    month_text: str,
    out_dir: Path,
    hub: Hub | None = None,
    feeds_dir: Path | None = None,
) -> Path:
    """Write the month's report into ``out_dir``, with the month's patch of the survey's ``hub`` README in
    ``out_dir/hub-patch`` when one is given; returns the path of ``report.html``."""
    month = parse_month(month_text)
    out_dir.mkdir(parents=True, exist_ok=True)
    queries = report_queries(month, taxonomy.survey_arxiv_id)
    hub_patch = (
        write_hub_patch(
            warehouse, taxonomy, hub, month, month_last_day(month), DEFAULT_MIN_SCORE, out_dir / HUB_PATCH_FOLDER
        )
        if hub
        else None
    )
    rows = {name: _named_rows(name, *warehouse.query(query.sql)) for name, query in queries.items()}
    context = ReportContext(
        taxonomy=taxonomy,
        rows=rows,
        months=[f"{month_offset(month, offset):%Y-%m}" for offset in range(-TRAILING_MONTHS, 1)],
        year_ago=f"{month_offset(month, -12):%Y-%m}",
        out_dir=out_dir,
        history=History(rows["history"][0].history_starts, rows["history"][0].history_ends),
        hub_patch=hub_patch,
        feeds_dir=feeds_dir,
    )
    label_counts = {(row.month, row.label): row.papers for row in context.rows["labels"]}
    document = Document(f"{taxonomy.title}: {month:%B %Y}", f"avi-radar monthly report for {context.this}")
    document.add(
        *_headline(context),
        *(
            [
                *_sections(context, label_counts),
                *_techniques(context, label_counts),
                *_new_mentions(context),
                *_emerging_topics(context),
                *_survey_update(context),
            ]
            if context.month_held  # else the headline says why there is nothing to measure
            else []
        ),
        *_methods(context),
        Heading("Appendix: the queries behind every number"),
        *[Code(query.name, query.sql) for query in queries.values()],
    )
    (out_dir / "report.md").write_text(to_markdown(document), encoding="utf-8")
    html_path = out_dir / "report.html"
    html_path.write_text(to_html(document), encoding="utf-8")
    logger.info("report for %s written to %s", month_text, out_dir)
    return html_path


def write_configured_report(settings: Settings, month_text: str, out_dir: Path | None = None) -> Path:
    """The month's report from the published warehouse as the settings configure it (their taxonomy, the hub
    patch when ``AVI_HUB_README`` names the hub, the feeds' folder), into ``out_dir`` or
    ``AVI_HOME/reports/YYYY-MM``; returns the path of ``report.html``."""
    taxonomy = load_taxonomy(settings.taxonomy_file)
    hub = read_hub(settings.hub_readme, taxonomy) if settings.hub_readme else None
    with open_for_reading(settings.db_path) as warehouse:
        return write_report(
            warehouse, taxonomy, month_text, out_dir or settings.reports_dir / month_text, hub, settings.feeds_dir
        )
