"""The monthly report: what the stream brought to each part of the survey, in five minutes of reading.

Every number comes from a query printed in the report's appendix and runnable with ``avi sql``; the two
computed parts (emerging topics and the ranking of the survey-update list) say how they are computed
from the rows those queries return. Writes ``report.md``, a self-contained ``report.html`` (charts
embedded) and the charts as PNG.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
import numpy as np  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.preprocessing import normalize  # noqa: E402

from classify.labels import paper_text  # noqa: E402
from classify.taxonomy import Taxonomy, is_task_label  # noqa: E402
from reports.document import Code, Document, Heading, Image, Links, Numbers, Paragraph, Table, to_html, to_markdown  # noqa: E402
from reports.topics import find_topics  # noqa: E402
from warehouse.db import Warehouse  # noqa: E402

logger = logging.getLogger(__name__)

LOW_FIT = 0.5  # best task-label score under which an audio-visual paper fits no subsection well
UPDATE_LIST_SIZE = 3
AV_AREAS = "('perception', 'generation', 'interaction')"


# (column, path in the model's stored metrics) of the figures the methods note quotes
_QUALITY_FIGURES = (
    ("relevance_precision", "all.relevance.precision"),
    ("relevance_recall", "all.relevance.recall"),
    ("relevance_f1", "all.relevance.f1"),
    ("judged_relevance_f1", "judged.relevance.f1"),
    ("section_macro_f1", "all.section.macro_f1"),
    ("subsection_macro_f1", "all.subsection.macro_f1"),
    ("technique_macro_f1", "all.technique.macro_f1"),
    ("label_calibration_error", "label_calibration.expected_calibration_error"),
)


@dataclass(frozen=True)
class NamedQuery:
    """A query the report ran, shown in the appendix."""

    name: str
    sql: str


def parse_month(text: str) -> date:
    """The first day of ``YYYY-MM``; raises ValueError with the expected format."""
    try:
        year, month = (int(part) for part in text.split("-"))
        return date(year, month, 1)
    except ValueError:
        raise ValueError(f"month must look like 2026-05, not {text!r}") from None


def month_offset(month: date, offset: int) -> date:
    """The first day of the month ``offset`` months after ``month`` (negative: before)."""
    index = month.year * 12 + month.month - 1 + offset
    return date(index // 12, index % 12 + 1, 1)


def _queries(month: date, survey_arxiv_id: str | None) -> dict[str, NamedQuery]:
    year_ago, first, after = month_offset(month, -12), month_offset(month, -11), month_offset(month, 1)
    this = f"p.published >= DATE '{month}' AND p.published < DATE '{after}'"
    not_the_survey = not_cited_by_it = ""
    if survey_arxiv_id:  # the survey's own paper is neither a new topic nor one it should add; what it cites it has
        not_the_survey = f"\n  AND p.arxiv_id <> '{survey_arxiv_id}'"
        not_cited_by_it = (
            f"\n  AND p.arxiv_id NOT IN (SELECT cited_id FROM citations WHERE citing_id = '{survey_arxiv_id}')"
        )
    current = "(SELECT model_version FROM models WHERE is_current)"
    return {
        "headline": NamedQuery(
            "Papers screened and audio-visual papers per month (this month, the one before, a year before)",
            "SELECT strftime(p.published, '%Y-%m') AS month, count(*) AS screened,\n"
            "       count(*) FILTER (WHERE c.relevance = 'av') AS audio_visual\n"
            f"FROM papers p LEFT JOIN classifications c ON c.arxiv_id = p.arxiv_id AND c.model_version = {current}\n"
            f"WHERE p.published >= DATE '{year_ago}' AND p.published < DATE '{after}'\n"
            "GROUP BY month ORDER BY month",
        ),
        "sections": NamedQuery(
            "Audio-visual papers per section and month (this month and the 11 before)",
            "SELECT strftime(p.published, '%Y-%m') AS month, s.section, count(*) AS papers\n"
            "FROM papers p JOIN paper_sections s USING (arxiv_id)\n"
            f"WHERE p.published >= DATE '{first}' AND p.published < DATE '{after}'\n"
            "GROUP BY ALL ORDER BY month, section",
        ),
        "labels": NamedQuery(
            "Papers per subsection and technique label and month (this month and the 11 before)",
            "SELECT strftime(month, '%Y-%m') AS month, label, papers FROM label_monthly\n"
            f"WHERE month >= DATE '{first}' AND month <= DATE '{month}'\n"
            f"  AND (split_part(label, '.', 1) IN {AV_AREAS} OR label LIKE 'technique.%')\n"
            "ORDER BY month, label",
        ),
        "new_mentions": NamedQuery(
            "Datasets, benchmarks and metrics first seen this month",
            "SELECT n.kind, n.name, n.papers, n.introduced_by, i.title AS introduced_title, n.first_arxiv_id\n"
            "FROM new_mentions_monthly n LEFT JOIN papers i ON i.arxiv_id = n.introduced_by\n"
            f"WHERE n.month = DATE '{month}'\n"
            "ORDER BY n.introduced_by IS NULL, n.kind, n.papers DESC, n.name",
        ),
        "low_fit": NamedQuery(
            f"Audio-visual papers that fit no subsection well (best task score < {LOW_FIT}), this month and the"
            " 6 before",
            "SELECT p.arxiv_id, p.title, p.abstract,\n"
            f"       date_diff('month', date_trunc('month', p.published), DATE '{month}') AS months_back\n"
            "FROM papers p JOIN classifications c ON c.arxiv_id = p.arxiv_id\n"
            f"WHERE c.model_version = {current} AND c.relevance = 'av' AND c.best_task_score < {LOW_FIT}\n"
            f"  AND p.published >= DATE '{month_offset(month, -6)}' AND p.published < DATE '{after}'{not_the_survey}\n"
            "ORDER BY p.arxiv_id",
        ),
        "fitting": NamedQuery(
            f"This month's audio-visual papers that fit a subsection (best task score >= {LOW_FIT}): what the"
            " emerging topics are named apart from",
            "SELECT p.title, p.abstract\n"
            "FROM papers p JOIN classifications c ON c.arxiv_id = p.arxiv_id\n"
            f"WHERE c.model_version = {current} AND c.relevance = 'av' AND c.best_task_score >= {LOW_FIT}\n"
            f"  AND {this}{not_the_survey}\n"
            "ORDER BY p.arxiv_id",
        ),
        "candidates": NamedQuery(
            "Candidates for the survey: this month's papers per subsection, with their score and how many papers"
            " of the last 12 months cite them",
            "SELECT l.label, p.arxiv_id, p.title, p.abstract, l.score,\n"
            "       (SELECT count(*) FROM citations x JOIN papers q ON q.arxiv_id = x.citing_id\n"
            f"        WHERE x.cited_id = p.arxiv_id AND q.published >= DATE '{first}') AS cited_by\n"
            f"FROM papers p JOIN paper_labels l USING (arxiv_id)\n"
            f"WHERE {this} AND split_part(l.label, '.', 1) IN {AV_AREAS}{not_the_survey}{not_cited_by_it}\n"
            "ORDER BY l.label, l.score DESC",
        ),
        "model_quality": NamedQuery(
            "How well the current model did in cross-validation on its training labels, when it was trained",
            "SELECT json_extract_string(metrics, '$.protocol') AS protocol,\n"
            + ",\n".join(
                f"       json_extract(metrics, '$.{path}')::DOUBLE AS {column}" for column, path in _QUALITY_FIGURES
            )
            + "\nFROM models WHERE is_current AND metrics IS NOT NULL",
        ),
        "methods": NamedQuery(
            "Model, extraction errors and papers still without labels this month",
            "SELECT (SELECT model_version FROM models WHERE is_current) AS model_version,\n"
            "       (SELECT kind FROM models WHERE is_current) AS kind,\n"
            "       (SELECT count(*) FROM paper_texts t JOIN papers p USING (arxiv_id)\n"
            f"        WHERE t.status NOT IN ('ok', 'repaired') AND {this}) AS extraction_errors,\n"
            "       (SELECT count(*) FROM paper_texts t JOIN papers p USING (arxiv_id)\n"
            f"        WHERE t.status IN ('ok', 'repaired') AND {this}) AS texts_read,\n"
            "       (SELECT count(*) FROM pending_work w JOIN papers p USING (arxiv_id)\n"
            f"        WHERE w.waiting_for = 'labels' AND {this}) AS unlabelled",
        ),
    }


def _change(now: int, before: int | None) -> str:
    if not before:
        return "n/a"
    return f"{(now - before) / before:+.0%}"


def _bar_chart(
    path: Path, names: list[str], month_values: list[float], average_values: list[float], month: str
) -> None:
    figure, axis = plt.subplots(figsize=(10, 0.45 * len(names) + 1.5), dpi=110)
    positions = np.arange(len(names))
    axis.barh(positions - 0.2, month_values, height=0.4, label=month, color="#3b6ea8")
    axis.barh(positions + 0.2, average_values, height=0.4, label="average of the 11 months before", color="#b8c7d9")
    axis.set_yticks(positions, names, fontsize=8)
    axis.invert_yaxis()
    axis.set_xlabel("audio-visual papers")
    axis.legend(fontsize=8)
    axis.set_title(f"Papers per section: {month} against the months before")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _line_chart(path: Path, months: list[str], series: dict[str, list[int]], title: str) -> None:
    figure, axis = plt.subplots(figsize=(10, 4.2), dpi=110)
    for name, values in series.items():
        axis.plot(months, values, marker="o", markersize=3, label=name)
    axis.set_ylabel("papers")
    axis.set_title(title)
    axis.tick_params(axis="x", rotation=45, labelsize=8)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _first_sentence(text: str | None, limit: int = 180) -> str:
    if not text:
        return ""
    sentence = text.split(". ")[0].strip()
    return sentence if len(sentence) <= limit else sentence[: limit - 1].rstrip() + "…"


def _figure(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def _quality_sentence(rows: list[tuple]) -> str:
    """How far to trust the labels, in the model's own cross-validated figures (or that they are unmeasured)."""
    if not rows:
        return (
            "The model carries no cross-validated figures (the zero-shot classifier, or a model trained with "
            "AVI_TRAIN_CV_FOLDS=0): how good its labels are has not been measured."
        )
    figures = dict(zip(["protocol", *(column for column, _ in _QUALITY_FIGURES)], rows[0], strict=True))
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


def write_report(warehouse: Warehouse, taxonomy: Taxonomy, month_text: str, out_dir: Path) -> Path:
    """Write the month's report into ``out_dir``; returns the path of ``report.html``."""
    month = parse_month(month_text)
    out_dir.mkdir(parents=True, exist_ok=True)
    queries = _queries(month, taxonomy.survey_arxiv_id)
    rows = {name: warehouse.query(query.sql)[1] for name, query in queries.items()}
    months = [f"{month_offset(month, offset):%Y-%m}" for offset in range(-11, 1)]
    this, previous, year_ago = months[-1], months[-2], f"{month_offset(month, -12):%Y-%m}"
    names = {label.id: label.name for label in taxonomy.labels}

    document = Document(f"{taxonomy.title}: {month:%B %Y}", f"avi-radar monthly report for {this}")
    # -- headline ----------------------------------------------------------------------------------
    headline = {row[0]: (row[1], row[2]) for row in rows["headline"]}
    screened, audio_visual = headline.get(this, (0, 0))
    share = f"{audio_visual / screened:.1%}" if screened else "n/a"
    document.add(
        Numbers(
            [
                (str(screened), "papers screened"),
                (str(audio_visual), "audio-visual papers"),
                (share, "share of the stream"),
                (_change(audio_visual, headline.get(previous, (0, None))[1]), f"audio-visual vs {previous}"),
                (_change(audio_visual, headline.get(year_ago, (0, None))[1]), f"audio-visual vs {year_ago}"),
            ]
        )
    )

    # -- sections and subsections -------------------------------------------------------------------
    section_counts = {(row[0], row[1]): row[2] for row in rows["sections"]}
    sections = [section for section in taxonomy.sections if not section.startswith("technique.")]
    average = {s: sum(section_counts.get((m, s), 0) for m in months[:-1]) / 11 for s in sections}
    chart = out_dir / "sections.png"
    _bar_chart(
        chart,
        [taxonomy.sections[s] for s in sections],
        [section_counts.get((this, s), 0) for s in sections],
        [average[s] for s in sections],
        this,
    )
    document.add(Heading("What grew: sections and subsections"), Image(chart, "papers per section"))
    label_counts = {(row[0], row[1]): row[2] for row in rows["labels"]}
    growth_rows = []
    for label in [label.id for label in taxonomy.labels if is_task_label(label.id)]:
        now = label_counts.get((this, label), 0)
        before = sum(label_counts.get((m, label), 0) for m in months[:-1]) / 11
        if now or before:
            growth = (now - before) / before if before else None
            growth_rows.append((label, now, before, growth))
    growth_rows.sort(key=lambda row: (row[3] is None, -(row[3] or 0), -row[1]))
    measurable = [row for row in growth_rows if row[3] is not None and (row[1] >= 3 or row[2] >= 3)]
    if measurable:
        fastest, slowest = measurable[0], measurable[-1]
        document.add(
            Paragraph(
                f"Fastest growing subsection: {names[fastest[0]]} ({fastest[1]} papers against {fastest[2]:.1f} "
                "a month "
                f"before, {fastest[3]:+.0%}). Most shrinking: {names[slowest[0]]} ({slowest[1]} against "
                f"{slowest[2]:.1f}, {slowest[3]:+.0%})."
            )
        )
    document.add(
        Table(
            ["subsection", f"papers {this}", "monthly average, 11 months before", "growth"],
            [
                [names[label], str(now), f"{before:.1f}", f"{growth:+.0%}" if growth is not None else "new"]
                for label, now, before, growth in growth_rows
            ],
        )
    )
    stacked = out_dir / "sections_by_month.png"
    _line_chart(
        stacked,
        months,
        {taxonomy.sections[s]: [section_counts.get((m, s), 0) for m in months] for s in sections},
        "Audio-visual papers per section, by month of submission",
    )
    document.add(Image(stacked, "papers per section by month"))

    # -- techniques ---------------------------------------------------------------------------------
    techniques = [label.id for label in taxonomy.labels if label.kind == "technique"]
    technique_series = {
        names[t]: [label_counts.get((m, t), 0) for m in months]
        for t in techniques
        if any(label_counts.get((m, t), 0) for m in months)
    }
    document.add(Heading("Technique trends"))
    if technique_series:
        technique_chart = out_dir / "techniques.png"
        _line_chart(technique_chart, months, technique_series, "Papers per foundation technique, by month")
        document.add(Image(technique_chart, "techniques by month"))
        document.add(
            Table(
                ["technique", previous, this, "12 months"],
                [
                    [name, str(values[-2]), str(values[-1]), str(sum(values))]
                    for name, values in sorted(technique_series.items(), key=lambda item: -item[1][-1])
                ],
            )
        )
    else:
        document.add(Paragraph("No technique labels in these twelve months."))

    # -- new datasets, benchmarks, metrics --------------------------------------------------------------
    document.add(Heading("New datasets, benchmarks and metrics"))
    if rows["new_mentions"]:
        document.add(
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
                    for kind, name, papers, introduced_by, introduced_title, first_id in rows["new_mentions"]
                ],
            )
        )
    else:
        document.add(Paragraph("No dataset, benchmark or metric was named for the first time this month."))

    # -- emerging topics ---------------------------------------------------------------------------------
    month_low = [(r[0], r[1], paper_text(r[1], r[2])) for r in rows["low_fit"] if r[3] == 0]
    earlier_low = [(paper_text(r[1], r[2]), r[1], r[3]) for r in rows["low_fit"] if r[3] > 0]
    topics = find_topics(month_low, earlier_low, [paper_text(title, abstract) for title, abstract in rows["fitting"]])
    document.add(
        Heading("Emerging topics"),
        Paragraph(
            f"{len(month_low)} audio-visual papers this month fit no subsection well (best subsection score under "
            f"{LOW_FIT}). Clustered on their titles and abstracts (TF-IDF, k-means) and named by the terms each "
            "cluster uses far more than this month's audio-visual papers as a whole; 'earlier' counts similar "
            "low-fit papers of the three months before and the three before those."
        ),
    )
    for topic in topics:
        trend = "grew" if topic.earlier_recent > topic.earlier_before else "did not grow"
        document.add(
            Heading(" / ".join(topic.terms), 3),
            Paragraph(
                f"{len(topic.papers)} papers; earlier: {topic.earlier_recent} in the last 3 months, "
                f"{topic.earlier_before} in the 3 before, so it {trend}."
            ),
            Links([(title, f"https://arxiv.org/abs/{arxiv_id}", arxiv_id) for arxiv_id, title in topic.papers[:4]]),
        )

    # -- survey-update list ----------------------------------------------------------------------------
    document.add(
        Heading("Papers the survey should add"),
        Paragraph(
            "Per subsection, this month's papers ranked by 0.5 x label score + 0.3 x centrality (cosine of the paper's "
            "TF-IDF vector to its subsection's centre this month) + 0.2 x min(1, citing papers of the last 12 months"
            " / 3)"
            + ("; not the survey itself, nor a paper its full text already cites." if taxonomy.survey_arxiv_id else ".")
        ),
    )
    by_label: dict[str, list[tuple]] = defaultdict(list)
    for label, arxiv_id, title, abstract, score, cited_by in rows["candidates"]:
        by_label[label].append((arxiv_id, title, abstract, score, cited_by))
    for label in [label.id for label in taxonomy.labels if label.id in by_label]:
        candidates = by_label[label]
        texts = [paper_text(title, abstract) for _, title, abstract, _, _ in candidates]
        vectors = TfidfVectorizer(stop_words="english").fit_transform(texts)
        centre = normalize(np.asarray(vectors.mean(axis=0)))
        centrality = np.asarray(normalize(vectors) @ centre.T).ravel()
        ranked = sorted(
            zip(candidates, centrality, strict=True),
            key=lambda item: -(0.5 * item[0][3] + 0.3 * item[1] + 0.2 * min(1.0, item[0][4] / 3)),
        )[:UPDATE_LIST_SIZE]
        document.add(
            Heading(names[label], 3),
            Links(
                [
                    (
                        title,
                        f"https://arxiv.org/abs/{arxiv_id}",
                        f"{arxiv_id}, score {score:.2f}, cited by {cited_by}: {_first_sentence(abstract)}",
                    )
                    for (arxiv_id, title, abstract, score, cited_by), _ in ranked
                ]
            ),
        )

    # -- methods ---------------------------------------------------------------------------------------
    model_version, kind, extraction_errors, texts_read, unlabelled = rows["methods"][0]
    document.add(
        Heading("Methods note"),
        Paragraph(
            f"Labels from model {model_version} ({kind}); papers are dated by submission. Full texts read this month: "
            f"{texts_read}; extraction errors: {extraction_errors}; papers still without labels: {unlabelled}. "
            "A subsection or technique counts a paper when its score passes that label's threshold (chosen by "
            "cross-validation when the model was trained). " + _quality_sentence(rows["model_quality"])
        ),
    )
    document.add(Heading("Appendix: the queries behind every number"))
    document.add(*[Code(query.name, query.sql) for query in queries.values()])

    (out_dir / "report.md").write_text(to_markdown(document), encoding="utf-8")
    html_path = out_dir / "report.html"
    html_path.write_text(to_html(document), encoding="utf-8")
    logger.info("report for %s written to %s", month_text, out_dir)
    return html_path
