"""The queries behind every number of the monthly report, printed in its appendix and runnable with
``avi sql``: one place that knows how the report reads the warehouse."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

# A stretch of history ends where a week passes without a paper: weekends and holidays (arXiv announces
# nothing for up to five days at the year's end) stay inside it, the scattered dates of old papers do not.
HISTORY_GAP_DAYS = 7
# The score from which a task label fits a paper under a model that stores no thresholds (the zero-shot
# classifier, whose thresholds are per paper); a trained model's own thresholds decide otherwise.
LOW_FIT = 0.5
AV_AREAS = "('perception', 'generation', 'interaction')"

# (column, path in the model's stored metrics) of the figures the methods note quotes
QUALITY_FIGURES = (
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


def month_last_day(month: date) -> date:
    """The last day of the month ``month`` lies in."""
    return month_offset(month, 1) - timedelta(days=1)


def _fits_a_subsection(paper: str) -> str:
    """SQL that holds when one of the task labels of the paper aliased ``paper`` reaches its threshold. An
    audio-visual paper whose task labels all fall short carries the nearest one only because it must carry
    one. A fixed score would not do: each label's threshold is its own (docs/classifier.md)."""
    return (
        "EXISTS (SELECT 1 FROM paper_labels l\n"
        "             LEFT JOIN label_thresholds t ON t.model_version = l.model_version AND t.label = l.label\n"
        f"             WHERE l.arxiv_id = {paper}.arxiv_id AND split_part(l.label, '.', 1) IN {AV_AREAS}\n"
        f"               AND l.score >= coalesce(t.threshold, {LOW_FIT}))"
    )


def report_queries(month: date, survey_arxiv_id: str | None) -> dict[str, NamedQuery]:
    """The report's queries for ``month`` by name, excluding the survey's own paper (and, for the update
    list, the papers its full text cites) when its arXiv id is known."""
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
        "history": NamedQuery(
            f"The warehouse's history up to this month: the last stretch of submission days with no gap of more "
            f"than {HISTORY_GAP_DAYS} days without a paper",
            "WITH days AS (SELECT DISTINCT published::DATE AS day FROM papers\n"
            f"              WHERE published < DATE '{after}'),\n"
            "     stretches AS (SELECT day, day - lag(day) OVER (ORDER BY day) AS days_since_previous FROM days)\n"
            "SELECT max(day) FILTER (WHERE days_since_previous IS NULL\n"
            f"                          OR days_since_previous > {HISTORY_GAP_DAYS}) AS history_starts,\n"
            "       max(day) AS history_ends\n"
            "FROM stretches",
        ),
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
            "Audio-visual papers that fit no subsection well (no task label reaches its threshold), this month and"
            " the 6 before",
            "SELECT p.arxiv_id, p.title, p.abstract,\n"
            f"       date_diff('month', date_trunc('month', p.published), DATE '{month}') AS months_back\n"
            "FROM papers p JOIN classifications c ON c.arxiv_id = p.arxiv_id\n"
            f"WHERE c.model_version = {current} AND c.relevance = 'av'\n"
            f"  AND NOT {_fits_a_subsection('p')}\n"
            f"  AND p.published >= DATE '{month_offset(month, -6)}' AND p.published < DATE '{after}'{not_the_survey}\n"
            "ORDER BY p.arxiv_id",
        ),
        "fitting": NamedQuery(
            "This month's audio-visual papers that fit a subsection (a task label reaches its threshold): what the"
            " emerging topics are named apart from",
            "SELECT p.title, p.abstract\n"
            "FROM papers p JOIN classifications c ON c.arxiv_id = p.arxiv_id\n"
            f"WHERE c.model_version = {current} AND c.relevance = 'av'\n"
            f"  AND {_fits_a_subsection('p')}\n"
            f"  AND {this}{not_the_survey}\n"
            "ORDER BY p.arxiv_id",
        ),
        "candidates": NamedQuery(
            "Candidates for the survey: this month's papers per subsection whose score passes the label's threshold"
            " (not the best label a paper gets when none passes), with how many papers of the last 12 months cite"
            " them",
            "SELECT l.label, p.arxiv_id, p.title, p.abstract, l.score,\n"
            "       (SELECT count(*) FROM citations x JOIN papers q ON q.arxiv_id = x.citing_id\n"
            f"        WHERE x.cited_id = p.arxiv_id AND q.published >= DATE '{first}') AS cited_by\n"
            "FROM papers p JOIN paper_labels l USING (arxiv_id)\n"
            "LEFT JOIN label_thresholds t ON t.model_version = l.model_version AND t.label = l.label\n"
            f"WHERE {this} AND split_part(l.label, '.', 1) IN {AV_AREAS}{not_the_survey}{not_cited_by_it}\n"
            "  AND l.score >= coalesce(t.threshold, 0)  -- the zero-shot model's thresholds are per paper\n"
            "ORDER BY l.label, l.score DESC",
        ),
        "model_quality": NamedQuery(
            "How well the current model did in cross-validation on its training labels, when it was trained",
            "SELECT json_extract_string(metrics, '$.protocol') AS protocol,\n"
            + ",\n".join(
                f"       json_extract(metrics, '$.{path}')::DOUBLE AS {column}" for column, path in QUALITY_FIGURES
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
