"""A real warehouse of one real day, labelled by the zero-shot classifier, for the report and the hub patch."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from classify.labels import paper_text
from classify.model import ZeroShotClassifier
from classify.taxonomy import load_taxonomy
from core.records import PaperRecord, content_hash
from core.settings import get_settings
from warehouse.db import Classified, Warehouse


@pytest.fixture
def day_warehouse(day_rows: list[dict], embedder) -> Path:
    settings = get_settings()
    taxonomy = load_taxonomy(settings.taxonomy_file)
    records = [
        PaperRecord(
            row["arxiv_id"],
            1,
            row["title"],
            row["abstract"],
            row["authors"],
            row["categories"],
            row["primary_category"],
            datetime.fromisoformat(row["announced"]).replace(tzinfo=UTC),
            None,
            row["comment"],
        )
        for row in day_rows
    ]
    classifier = ZeroShotClassifier(taxonomy, embedder)
    predictions = classifier.predict([paper_text(r.title, r.abstract) for r in records])
    with Warehouse(settings.db_path) as warehouse:
        warehouse.upsert_papers(records, warehouse.start_run("ingest", None, None))
        warehouse.register_model(classifier.version, classifier.kind)
        warehouse.store_classifications(
            classifier.version,
            [
                Classified(
                    r.arxiv_id,
                    p.relevance,
                    p.relevance_score,
                    p.best_task_score,
                    content_hash(r.title, r.abstract),
                    p.labels,
                )
                for r, p in zip(records, predictions, strict=True)
            ],
        )
        warehouse.publish()
    return settings.db_path
