"""OAI-PMH 2.0 for the mirror, as arXiv answers it: ListRecords in the ``arXiv`` metadata format, sets by
archive (``cs``, ``eess``, ``physics:hep-th``), ``from``/``until`` datestamps and resumption tokens.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from xml.sax.saxutils import escape, quoteattr

from mirror.records import MirrorRecord

PAGE_SIZE = 500
_HEADER = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xsi:schemaLocation="http://www.openarchives.org/OAI/2.0/ http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd">\n'
)


def archive_set(category: str) -> str:
    """The OAI set arXiv files a category under: its archive (``cs.CV`` -> ``cs``; physics archives as
    ``physics:hep-th``)."""
    archive = category.split(".")[0]
    return archive if archive in {"cs", "eess", "math", "stat", "econ", "q-bio", "q-fin"} else f"physics:{archive}"


def _in_set(record: MirrorRecord, set_spec: str | None) -> bool:
    return set_spec is None or any(archive_set(category) == set_spec for category in record.categories)


def _envelope(verb_attributes: str, base_url: str, body: str) -> bytes:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return (
        f"{_HEADER}<responseDate>{now}</responseDate>\n<request {verb_attributes}>{base_url}/oai2</request>\n"
        f"{body}</OAI-PMH>\n"
    ).encode()


def error(code: str, message: str, base_url: str) -> bytes:
    """An OAI-PMH error answer (still HTTP 200, as the protocol wants)."""
    return _envelope("", base_url, f"<error code={quoteattr(code)}>{escape(message)}</error>\n")


def _record(record: MirrorRecord) -> str:
    authors = "".join(
        f"<author><keyname>{escape(name.split()[-1])}</keyname>"
        f"<forenames>{escape(' '.join(name.split()[:-1]))}</forenames></author>"
        for name in record.authors
        if name.split()
    )
    set_specs = dict.fromkeys(map(archive_set, record.categories))
    sets = "".join(f" <setSpec>{escape(spec)}</setSpec>\n" for spec in set_specs)
    comments = f"<comments>{escape(record.comment)}</comments>" if record.comment else ""
    return (
        f"<record>\n<header>\n <identifier>oai:arXiv.org:{escape(record.arxiv_id)}</identifier>\n"
        f" <datestamp>{record.updated:%Y-%m-%d}</datestamp>\n{sets}</header>\n<metadata>\n"
        ' <arXiv xmlns="http://arxiv.org/OAI/arXiv/">\n'
        f" <id>{escape(record.arxiv_id)}</id><created>{record.published:%Y-%m-%d}</created>"
        f"<authors>{authors}</authors><title>{escape(record.title)}</title>"
        f"<categories>{escape(' '.join(record.categories))}</categories>{comments}"
        f"<abstract>{escape(record.abstract)}</abstract></arXiv>\n</metadata>\n</record>\n"
    )


def list_records(
    records: list[MirrorRecord], params: dict[str, str], base_url: str, page_size: int = PAGE_SIZE
) -> bytes:
    """One page of ``page_size`` ListRecords; ``params`` holds the request's arguments (or a resumptionToken)."""
    token = params.get("resumptionToken")
    if token:
        try:
            set_spec, since, until, offset_text = token.split("|")
            offset = int(offset_text)
        except ValueError:
            return error("badResumptionToken", f"unknown token {token!r}", base_url)
    else:
        if params.get("metadataPrefix") != "arXiv":
            return error("cannotDisseminateFormat", "this mirror serves metadataPrefix=arXiv", base_url)
        set_spec, since, until, offset = params.get("set", ""), params.get("from", ""), params.get("until", ""), 0
    try:
        low = date.fromisoformat(since) if since else date.min
        high = date.fromisoformat(until) if until else date.max
    except ValueError:
        return error("badArgument", "from and until are YYYY-MM-DD", base_url)
    matching = [r for r in records if _in_set(r, set_spec or None) and low <= r.updated.date() <= high]
    if not matching:
        return error("noRecordsMatch", "no records in that window", base_url)
    page = matching[offset : offset + page_size]
    next_offset = offset + len(page)
    resumption = ""
    if next_offset < len(matching) or token:
        next_token = f"{set_spec}|{since}|{until}|{next_offset}" if next_offset < len(matching) else ""
        resumption = (
            f'<resumptionToken cursor="{offset}" completeListSize="{len(matching)}">'
            f"{escape(next_token)}</resumptionToken>\n"
        )
    attributes = 'verb="ListRecords" metadataPrefix="arXiv"' + (f" set={quoteattr(set_spec)}" if set_spec else "")
    body = "<ListRecords>\n" + "".join(_record(record) for record in page) + resumption + "</ListRecords>\n"
    return _envelope(attributes, base_url, body)


def identify(base_url: str) -> bytes:
    """The Identify answer."""
    return _envelope(
        'verb="Identify"',
        base_url,
        (
            f"<Identify><repositoryName>avi-radar arXiv mirror</repositoryName><baseURL>{base_url}/oai2</baseURL>"
            "<protocolVersion>2.0</protocolVersion><adminEmail>nobody@localhost</adminEmail>"
            "<earliestDatestamp>1990-01-01</earliestDatestamp><deletedRecord>persistent</deletedRecord>"
            "<granularity>YYYY-MM-DD</granularity></Identify>\n"
        ),
    )
