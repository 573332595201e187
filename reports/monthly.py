"""The monthly report: what the stream brought to each section of the survey.

Every number comes from a query printed in the report's appendix, runnable with ``avi sql``.
Writes ``report.md``, a self-contained ``report.html`` (charts embedded) and the charts as PNG.
"""

from __future__ import annotations

import base64
import html
import logging
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first

from classify.taxonomy import Taxonomy  # noqa: E402
from warehouse.db import Warehouse  # noqa: E402

logger = logging.getLogger(__name__)

TOP_PAPERS_PER_SECTION = 5


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


def _queries(month: date) -> dict[str, NamedQuery]:
    first = month_offset(month, -11)
    after = month_offset(month, 1)
    this = f"DATE '{month}' <= p.published AND p.published < DATE '{after}'"
    return {
        "screened": NamedQuery(
            "Papers screened this month",
            f"SELECT count(*) AS papers FROM papers p WHERE {this}",
        ),
        "audio_visual": NamedQuery(
            "Audio-visual papers this month",
            "SELECT count(*) AS papers FROM papers p JOIN paper_labels l USING (arxiv_id)\n"
            f"WHERE l.label = 'relevance:av' AND {this}",
        ),
        "by_month": NamedQuery(
            "Audio-visual papers per section and month (this month and the 11 before)",
            "SELECT strftime(p.published, '%Y-%m') AS month, s.section, count(*) AS papers\n"
            "FROM papers p JOIN paper_sections s USING (arxiv_id)\n"
            f"WHERE DATE '{first}' <= p.published AND p.published < DATE '{after}'\n"
            "GROUP BY ALL ORDER BY month, section",
        ),
        "top_papers": NamedQuery(
            "Top papers of each section this month (by label score)",
            "SELECT s.section, p.arxiv_id, p.title, max(l.score) AS score\n"
            "FROM papers p JOIN paper_sections s USING (arxiv_id)\n"
            "JOIN paper_labels l ON l.arxiv_id = p.arxiv_id AND starts_with(l.label, s.section || '.')\n"
            f"WHERE {this}\n"
            "GROUP BY s.section, p.arxiv_id, p.title\n"
            "QUALIFY row_number() OVER (PARTITION BY s.section ORDER BY max(l.score) DESC, p.arxiv_id)"
            f" <= {TOP_PAPERS_PER_SECTION}\n"
            "ORDER BY s.section, score DESC",
        ),
        "model": NamedQuery(
            "Model that labelled the papers",
            "SELECT model_version, kind, registered_at FROM models WHERE is_current",
        ),
    }


def _chart(
    months: list[str], sections: list[str], counts: dict[tuple[str, str], int], path: Path, taxonomy: Taxonomy
) -> None:
    figure, axis = plt.subplots(figsize=(10, 4.8), dpi=110)
    bottom = [0] * len(months)
    colors = plt.get_cmap("tab20").colors
    for index, section in enumerate(sections):
        values = [counts.get((month, section), 0) for month in months]
        axis.bar(
            months,
            values,
            bottom=bottom,
            label=taxonomy.sections.get(section, section),
            color=colors[index % len(colors)],
        )
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axis.set_ylabel("audio-visual papers")
    axis.set_title("Audio-visual papers per section, by month of submission")
    axis.tick_params(axis="x", rotation=45)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)


def _html_table(columns: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(column)}</th>" for column in columns)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _md_table(columns: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


_CSS = """
body {font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; color: #222; line-height: 1.45;}
h1 {margin-bottom: 0.2em;} .sub {color: #666; margin-top: 0;}
.numbers {display: flex; gap: 2em; margin: 1em 0;} .numbers div {background: #f3f5f8; padding: 0.8em 1.2em;
border-radius: 6px;} .numbers b {font-size: 1.6em; display: block;}
table {border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.92em;} th, td {border-bottom: 1px solid #ddd;
padding: 0.3em 0.7em; text-align: left;} th {background: #f3f5f8;}
img {max-width: 100%;} pre {background: #f6f6f6; padding: 0.6em; overflow-x: auto; font-size: 0.85em;}
"""


def write_report(warehouse: Warehouse, taxonomy: Taxonomy, month_text: str, out_dir: Path) -> Path:
    """Write the month's report into ``out_dir``; returns the path of ``report.html``."""
    month = parse_month(month_text)
    out_dir.mkdir(parents=True, exist_ok=True)
    queries = _queries(month)
    screened = warehouse.query(queries["screened"].sql)[1][0][0]
    audio_visual = warehouse.query(queries["audio_visual"].sql)[1][0][0]
    counts = {(row[0], row[1]): int(row[2]) for row in warehouse.query(queries["by_month"].sql)[1]}
    top = warehouse.query(queries["top_papers"].sql)[1]
    model_rows = warehouse.query(queries["model"].sql)[1]
    model_version = model_rows[0][0] if model_rows else "none"

    months = [f"{month_offset(month, offset):%Y-%m}" for offset in range(-11, 1)]
    sections = [section for section in taxonomy.sections if not section.startswith("technique.")]
    chart_path = out_dir / "sections_by_month.png"
    _chart(months, sections, counts, chart_path, taxonomy)
    chart_data = base64.b64encode(chart_path.read_bytes()).decode()

    share = f"{audio_visual / screened:.1%}" if screened else "n/a"
    section_rows = [
        [
            taxonomy.sections[section],
            str(counts.get((months[-1], section), 0)),
            str(sum(counts.get((m, section), 0) for m in months[:-1])),
        ]
        for section in sections
    ]
    section_columns = ["section", f"papers {months[-1]}", "papers in the 11 months before"]
    top_by_section: dict[str, list[tuple]] = {}
    for section, arxiv_id, title, score in top:
        top_by_section.setdefault(section, []).append((arxiv_id, title, score))

    md = [
        f"# {taxonomy.title}: {month:%B %Y}",
        f"Papers screened: **{screened}**; audio-visual: **{audio_visual}** ({share}). Model `{model_version}`.",
        "## Papers per section",
        "![papers per section](sections_by_month.png)",
        _md_table(section_columns, section_rows),
        "## Top papers of each section",
    ]
    body = [
        f"<h1>{html.escape(taxonomy.title)}</h1><p class='sub'>Monthly report, {month:%B %Y}</p>",
        f"<div class='numbers'><div><b>{screened}</b>papers screened</div><div><b>{audio_visual}</b>audio-visual"
        f"</div><div><b>{share}</b>share of the stream</div></div>",
        "<h2>Papers per section</h2>",
        f"<img id='sections-chart' alt='papers per section by month' src='data:image/png;base64,{chart_data}'>",
        _html_table(section_columns, [[html.escape(cell) for cell in row] for row in section_rows]),
        "<h2>Top papers of each section</h2>",
    ]
    for section in sections:
        papers = top_by_section.get(section)
        if not papers:
            continue
        md.append(f"### {taxonomy.sections[section]}")
        md.append(
            "\n".join(
                f"- [{title}](https://arxiv.org/abs/{arxiv_id}) ({score:.2f})" for arxiv_id, title, score in papers
            )
        )
        body.append(f"<h3>{html.escape(taxonomy.sections[section])}</h3><ul>")
        body += [
            f"<li><a href='https://arxiv.org/abs/{arxiv_id}'>{html.escape(title)}</a> "
            f"<small>{arxiv_id}, score {score:.2f}</small></li>"
            for arxiv_id, title, score in papers
        ]
        body.append("</ul>")
    md.append("## Appendix: the queries behind every number")
    body.append("<h2>Appendix: the queries behind every number</h2>")
    for query in queries.values():
        md += [f"**{query.name}**", f"```sql\n{query.sql}\n```"]
        body.append(f"<p><b>{html.escape(query.name)}</b></p><pre>{html.escape(query.sql)}</pre>")

    (out_dir / "report.md").write_text("\n\n".join(md) + "\n", encoding="utf-8")
    html_path = out_dir / "report.html"
    html_path.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(taxonomy.title)} {month:%Y-%m}"
        f"</title><style>{_CSS}</style></head><body>{''.join(body)}</body></html>",
        encoding="utf-8",
    )
    logger.info("report for %s written to %s", month_text, out_dir)
    return html_path
