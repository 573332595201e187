"""What the survey's authors take away: a patch for the survey's hub README, BibTeX for the papers."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from avi_radar.commands.common import existing_paths, parse_date, require_known, score, year_month
from core.records import ARXIV_FIRST_DAY
from core.settings import Settings
from core.wording import counted
from reports.hub import DEFAULT_MIN_SCORE


def cmd_hub_patch(args: argparse.Namespace, settings: Settings) -> int:
    """Write the hub README with the window's new audio-visual papers added, its diff and a PR body."""
    from classify.taxonomy import load_taxonomy
    from reports.hub import read_hub, write_hub_patch
    from warehouse.db import open_for_reading

    taxonomy = load_taxonomy(settings.taxonomy_file)
    hub = read_hub(existing_paths([args.hub])[0], taxonomy)
    since, until = args.since or ARXIV_FIRST_DAY, args.until or datetime.now(UTC).date()
    out_dir = Path(args.out) if args.out else settings.hub_patch_dir
    with open_for_reading(settings.db_path) as warehouse:
        patch = write_hub_patch(warehouse, taxonomy, hub, since, until, args.min_score, out_dir)
    papers = patch.papers
    added = f"{counted(patch.lines_added, 'line')} added under {counted(len(patch.added), 'heading')}"
    print(
        f"{counted(len(papers), 'paper')}: {added}, "
        f"{patch.lines_removed} removed; {len(patch.already_listed)} listed already, {len(patch.unplaced)} "
        f"under no heading"
    )
    for label, added in sorted(patch.added.items()):
        print(f"  {len(added):4d}  {label}")
    if patch.labels_without_heading:
        print(f"labels with no hub heading: {', '.join(patch.labels_without_heading)}")
    if patch.headings_without_label:
        print(f"hub headings with no label: {', '.join(patch.headings_without_label)}")
    print(f"written to {out_dir}: README.md, hub.diff, PR.md")
    return 0


def _check_label(label: str, settings: Settings) -> None:
    """Refuse a label the taxonomy does not have."""
    from classify.taxonomy import load_taxonomy

    labels = load_taxonomy(settings.taxonomy_file).label_ids
    require_known("--label", label, labels, "a label of the taxonomy", settings.taxonomy_file)


def cmd_bibtex(args: argparse.Namespace, settings: Settings) -> int:
    """Print BibTeX entries for the papers of a month, of a label, or given by id."""
    from reports.bibtex import BY_IDS, BY_LABEL, BY_MONTH, bibtex_entries
    from warehouse.db import open_for_reading

    if args.month:
        sql, parameters = BY_MONTH, [args.month]
    elif args.label:
        _check_label(args.label, settings)
        sql, parameters = BY_LABEL, [args.label]
    else:
        sql, parameters = BY_IDS, [args.ids]
    with open_for_reading(settings.db_path) as warehouse:
        rows = warehouse.query(sql, parameters)[1]
    if args.ids:
        missing = sorted(set(args.ids) - {row[0] for row in rows})
        if missing:
            raise ValueError(f"not in the warehouse: {', '.join(missing)}")
    print(bibtex_entries(rows), end="")
    print(f"{len(rows)} entries", file=sys.stderr)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add the survey commands to ``avi``."""
    hub = commands.add_parser("hub-patch", help="the hub README with the new audio-visual papers added, a diff, a PR")
    hub.add_argument("--hub", required=True, help="the survey's hub README (Markdown, the taxonomy's headings)")
    hub.add_argument("--out", help="output folder (default: AVI_HOME/hub-patch)")
    hub.add_argument("--since", type=parse_date, metavar="DATE", help="first submission date (default: every paper)")
    hub.add_argument("--until", type=parse_date, metavar="DATE", help="last submission date (default: today)")
    hub.add_argument(
        "--min-score", type=score, default=DEFAULT_MIN_SCORE, help="lowest label score placed under a heading (0.5)"
    )
    hub.set_defaults(handler=cmd_hub_patch)

    bibtex = commands.add_parser("bibtex", help="BibTeX entries (@misc, arXiv eprint) for the papers chosen")
    chosen = bibtex.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--month", type=year_month, help="the month's audio-visual papers (YYYY-MM, by submission)")
    chosen.add_argument("--label", help="the papers the current model gives this label id")
    chosen.add_argument("--ids", nargs="+", help="these arXiv ids")
    bibtex.set_defaults(handler=cmd_bibtex)
