"""Atom responses in the wire format export.arxiv.org answers with today (2025+)."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from urllib.parse import urlencode
from xml.sax.saxutils import escape, quoteattr

from mirror.records import MirrorRecord

_HEADER = (
    "<?xml version='1.0' encoding='UTF-8'?>\n"
    '<feed xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/" '
    'xmlns:arxiv="http://arxiv.org/schemas/atom" xmlns="http://www.w3.org/2005/Atom">\n'
)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _entry(record: MirrorRecord, base_url: str) -> str:
    versioned = f"{record.arxiv_id}v{record.version}"
    lines = [
        "  <entry>",
        f"    <id>http://arxiv.org/abs/{escape(versioned)}</id>",
        f"    <title>{escape(record.title)}</title>",
        f"    <updated>{_stamp(record.updated)}</updated>",
        f'    <link href={quoteattr(f"{base_url}/abs/{versioned}")} rel="alternate" type="text/html"/>',
        f'    <link href={quoteattr(f"{base_url}/pdf/{versioned}")} rel="related" type="application/pdf" title="pdf"/>',
        f"    <summary>{escape(record.abstract)}</summary>",
    ]
    lines += [
        f'    <category term={quoteattr(category)} scheme="http://arxiv.org/schemas/atom"/>'
        for category in record.categories
    ]
    lines.append(f"    <published>{_stamp(record.published)}</published>")
    if record.comment:
        lines.append(f"    <arxiv:comment>{escape(record.comment)}</arxiv:comment>")
    lines.append(f"    <arxiv:primary_category term={quoteattr(record.primary_category)}/>")
    for author in record.authors:
        lines += ["    <author>", f"      <name>{escape(author)}</name>", "    </author>"]
    lines.append("  </entry>")
    return "\n".join(lines)


def render_feed(
    records: list[MirrorRecord],
    *,
    search_query: str,
    id_list: str,
    start: int,
    max_results: int,
    total: int,
    base_url: str,
) -> bytes:
    """A full Atom feed for one page of results."""
    query_string = f"search_query={search_query}&id_list={id_list}&start={start}&max_results={max_results}"
    feed_hash = base64.b64encode(hashlib.sha1(query_string.encode()).digest()).decode()[:27]
    link = f"{base_url}/api/query?" + urlencode(
        {"search_query": search_query, "start": start, "max_results": max_results, "id_list": id_list}
    )
    parts = [
        _HEADER,
        f"  <id>https://arxiv.org/api/{feed_hash}</id>\n",
        f"  <title>arXiv Query: {escape(query_string)}</title>\n",
        f"  <updated>{_stamp(datetime.now(UTC))}</updated>\n",
        f'  <link href={quoteattr(link)} type="application/atom+xml"/>\n',
        f"  <opensearch:itemsPerPage>{max_results}</opensearch:itemsPerPage>\n",
        f"  <opensearch:totalResults>{total}</opensearch:totalResults>\n",
        f"  <opensearch:startIndex>{start}</opensearch:startIndex>\n",
    ]
    parts += [_entry(record, base_url) + "\n" for record in records]
    parts.append("</feed>\n")
    return "".join(parts).encode("utf-8")


def render_error(message: str, base_url: str) -> bytes:
    """The Atom error feed arXiv sends with HTTP 400 for a malformed query."""
    return (
        _HEADER
        + f"  <id>{base_url}/api/errors</id>\n  <title>Error</title>\n"
        + "  <opensearch:totalResults>1</opensearch:totalResults>\n"
        + "  <opensearch:startIndex>0</opensearch:startIndex>\n"
        + "  <opensearch:itemsPerPage>1</opensearch:itemsPerPage>\n"
        + f"  <entry>\n    <id>{base_url}/api/errors#error</id>\n    <title>Error</title>\n"
        + f"    <summary>{escape(message)}</summary>\n  </entry>\n</feed>\n"
    ).encode("utf-8")
