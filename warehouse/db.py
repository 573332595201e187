"""All SQL that writes or reads the DuckDB warehouse.

DuckDB lets one process write a file and then no other process read it. Ingestion therefore writes
``avi.duckdb`` and, after each successful run, publishes a copy, ``avi-published.duckdb``, by an atomic
rename: analysts (``avi sql``, reports, the DuckDB CLI with ``-readonly``) open the published copy and
never meet the writer's lock.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import astuple, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from core.records import Extraction, Mention, PaperRecord, Rejected, content_hash, is_withdrawn
from core.settings import kept_aside

MIGRATIONS = sorted(Path(__file__).with_name("migrations").glob("[0-9][0-9][0-9]_*.sql"))
SCHEMA_VERSION = len(MIGRATIONS)
VECTOR_SIZE = 384  # all-MiniLM-L6-v2's embeddings: paper_embeddings.vector is FLOAT[384]
PUBLISHED_NAME = "avi-published.duckdb"


def published_path(db_path: Path) -> Path:
    """Where the read-only snapshot of ``db_path`` is published."""
    return db_path.with_name(PUBLISHED_NAME)


def _naive_utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class ImportCheckpoint:
    """How far a backfill file was loaded: its first ``lines_done`` lines are in the warehouse (``complete``:
    all of it), as long as the file still has the same ``fingerprint`` (size, modification time, and the
    categories the import kept)."""

    source_file: str
    fingerprint: str
    lines_done: int
    complete: bool
    run_id: int


@dataclass(frozen=True)
class PaperToClassify:
    """A paper whose current-model labels are missing or stale."""

    arxiv_id: str
    title: str
    abstract: str | None
    content_hash: str


@dataclass(frozen=True)
class Classified:
    """One paper's classification, ready to load."""

    arxiv_id: str
    relevance: str
    relevance_score: float
    best_task_score: float
    content_hash: str
    labels: dict[str, float]
    label_margin: float | None = None  # classify.model.task_label_margin
    vector: Sequence[float] | None = None  # the embedding the labels came from; None: screened out unembedded


@contextmanager
def transaction(connection: duckdb.DuckDBPyConnection, **arrow_tables: pa.Table) -> Iterator[duckdb.DuckDBPyConnection]:
    """A transaction with Arrow tables registered under the given names for its duration."""
    for name, table in arrow_tables.items():
        connection.register(name, table)
    try:
        connection.execute("BEGIN")
        yield connection
        connection.execute("COMMIT")
    except Exception:
        connection.execute("ROLLBACK")
        raise
    finally:
        for name in arrow_tables:
            connection.unregister(name)


def _insert_rows(connection: duckdb.DuckDBPyConnection, table: str, rows: list[tuple]) -> None:
    """Insert rows (none is fine: DuckDB's executemany refuses an empty list)."""
    if rows:
        connection.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)


def schema_version(connection: duckdb.DuckDBPyConnection) -> int:
    """The schema version of an open file: 0 for an empty one."""
    found = connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not found:
        return 0
    return int(connection.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])


def apply_migrations(connection: duckdb.DuckDBPyConnection, current: int, target: int) -> None:
    """Apply migrations ``current + 1`` .. ``target`` in order, each in its own transaction."""
    for number in range(current + 1, target + 1):
        with transaction(connection):
            connection.execute(MIGRATIONS[number - 1].read_text(encoding="utf-8"))
            connection.execute("INSERT INTO schema_version VALUES (?, ?)", [number, _now()])


def require_warehouse(path: Path) -> None:
    """Refuse a command that needs the papers of the warehouse file ``path`` when the file is missing, before it
    starts anything (an empty warehouse is never started for it): `avi restore` when the published snapshot
    is there, else a first ingest."""
    if path.exists():
        return
    if published_path(path).exists():  # a new, empty warehouse would be published over the only copy left
        raise FileNotFoundError(
            f"the warehouse {path} is missing but its published snapshot is there: `avi restore` puts it back"
        )
    raise FileNotFoundError(f"no warehouse at {path}: run `avi ingest` (or `avi import`) first")


class Warehouse:
    """A connection to the warehouse file with the operations the pipeline needs."""

    def __init__(self, path: Path, read_only: bool = False, memory_limit: str | None = None) -> None:
        """Open (and migrate, unless ``read_only``) the warehouse; ``memory_limit`` caps DuckDB's buffer pool,
        which otherwise may grow to 80 % of the machine's memory during a backfill."""
        self.path = path
        if read_only or published_path(path).exists():  # else a writer starts a new warehouse
            require_warehouse(path)
        config = {"memory_limit": memory_limit} if memory_limit else {}
        self.connection = duckdb.connect(str(path), read_only=read_only, config=config)
        if read_only:
            version = schema_version(self.connection)
            if version != SCHEMA_VERSION:
                self.connection.close()
                raise RuntimeError(
                    f"{path} has schema version {version}, this avi-radar reads version {SCHEMA_VERSION}: "
                    + ("run `avi migrate` to upgrade it" if version < SCHEMA_VERSION else "upgrade avi-radar")
                )
        else:
            self._migrate()

    def _transaction(self, **arrow_tables: pa.Table) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return transaction(self.connection, **arrow_tables)

    def close(self) -> None:
        """Checkpoint and close."""
        self.connection.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _migrate(self) -> None:
        """Bring the file to SCHEMA_VERSION, one migration per transaction; refuse a newer file."""
        version = schema_version(self.connection)
        if version > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path} has schema version {version}; this avi-radar knows up to {SCHEMA_VERSION}. "
                "Upgrade avi-radar to open it."
            )
        apply_migrations(self.connection, version, SCHEMA_VERSION)

    # -- runs -------------------------------------------------------------------------------------
    def start_run(self, flow: str, since: date | None, until: date | None) -> int:
        """Record a run as running; returns its id.

        Holding the write lock means no other run is alive, so a run still marked running was killed
        before it could record its outcome: it is marked crashed (its work is redone by this run).
        """
        self.connection.execute(
            "UPDATE runs SET status = 'crashed', error = 'the process ended before recording an outcome' "
            "WHERE status = 'running'"
        )
        run_id = self.connection.execute("SELECT coalesce(max(run_id), 0) + 1 FROM runs").fetchone()[0]
        self.connection.execute(
            "INSERT INTO runs (run_id, flow, started_at, status, since, until) VALUES (?, ?, ?, 'running', ?, ?)",
            [run_id, flow, _now(), since, until],
        )
        return int(run_id)

    def finish_run(
        self, run_id: int, status: str, counts: dict[str, int], durations: dict[str, float], error: str | None = None
    ) -> None:
        """Record a run's outcome, counts and stage durations."""
        columns = ["n_harvested", "n_new", "n_updated", "n_classified", "n_relevant", "n_text_ok", "n_text_failed"]
        assignments = ", ".join(f"{column} = ?" for column in columns)
        self.connection.execute(
            f"UPDATE runs SET finished_at = ?, status = ?, durations = ?, error = ?, {assignments} WHERE run_id = ?",
            [_now(), status, json.dumps(durations), error, *[counts.get(column) for column in columns], run_id],
        )

    def watermark(self) -> date | None:
        """The end of the newest window a successful ingestion run loaded completely."""
        row = self.connection.execute(
            "SELECT max(until) FROM runs WHERE flow = 'ingest' AND status = 'success'"
        ).fetchone()
        return row[0] if row else None

    def ingested(self, since: date, until: date) -> bool:
        """Whether one successful ingestion run loaded the whole window ``since``..``until``."""
        rows = self.connection.execute(
            "SELECT count(*) FROM runs WHERE flow = 'ingest' AND status = 'success' AND since <= ? AND until >= ?",
            [since, until],
        ).fetchall()
        return rows[0][0] > 0

    # -- papers -----------------------------------------------------------------------------------
    def upsert_papers(self, records: Sequence[PaperRecord], run_id: int) -> tuple[int, int]:
        """Insert new papers and update changed ones; returns (new, updated). Unchanged rows stay as they are."""
        if not records:
            return 0, 0
        with self._transaction(incoming=_papers_table(records)) as connection:
            return _upsert_incoming(connection, run_id)

    # -- classification ---------------------------------------------------------------------------
    def register_model(
        self, model_version: str, kind: str, metrics: dict | None = None, thresholds: dict[str, float] | None = None
    ) -> None:
        """Make ``model_version`` the current model that ``paper_labels`` shows; ``metrics``: the figures
        ``avi eval`` gave it at training time (none for the zero-shot classifier), stored as JSON;
        ``thresholds``: its label thresholds (none for the zero-shot classifier, whose are per paper)."""
        stored = json.dumps(metrics) if metrics else None
        with self._transaction() as connection:
            if thresholds:
                connection.execute("DELETE FROM label_thresholds WHERE model_version = ?", [model_version])
                _insert_rows(connection, "label_thresholds", [(model_version, *item) for item in thresholds.items()])
            connection.execute("UPDATE models SET is_current = false WHERE is_current")
            connection.execute(
                """INSERT INTO models (model_version, kind, registered_at, is_current, metrics)
                   VALUES (?, ?, ?, true, ?)
                   ON CONFLICT (model_version) DO UPDATE
                   SET is_current = true, metrics = coalesce(excluded.metrics, models.metrics)""",
                [model_version, kind, _now(), stored],
            )

    def papers_to_classify(self, model_version: str) -> list[str]:
        """Ids of the papers without a classification by ``model_version`` for their current text (ids only:
        a backfill's texts are fetched batch by batch with :meth:`papers_by_id`)."""
        rows = self.connection.execute(
            """SELECT p.arxiv_id FROM papers p
               LEFT JOIN classifications c ON c.arxiv_id = p.arxiv_id AND c.model_version = ?
               WHERE c.arxiv_id IS NULL OR c.content_hash <> p.content_hash
               ORDER BY p.arxiv_id""",
            [model_version],
        ).fetchall()
        return [arxiv_id for (arxiv_id,) in rows]

    def papers_by_id(self, arxiv_ids: list[str]) -> list[PaperToClassify]:
        """Title, abstract and content hash of the given papers, in the given order."""
        rows = self.connection.execute(
            """SELECT arxiv_id, title, abstract, content_hash FROM papers
               WHERE arxiv_id IN (SELECT unnest(?::VARCHAR[]))""",
            [arxiv_ids],
        ).fetchall()
        by_id = {row[0]: PaperToClassify(*row) for row in rows}
        return [by_id[arxiv_id] for arxiv_id in arxiv_ids]

    def record_analyst_label(
        self,
        arxiv_id: str,
        relevance: str,
        labels: Sequence[str],
        analyst: str,
        note: str | None = None,
        model_version: str | None = None,
    ) -> None:
        """Store (or replace) an analyst's decision about a paper of the warehouse."""
        if not self.connection.execute("SELECT 1 FROM papers WHERE arxiv_id = ?", [arxiv_id]).fetchone():
            raise KeyError(f"{arxiv_id} is not in the warehouse")
        with self._transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO analyst_labels VALUES (?, ?, ?, ?, ?, ?, ?)",
                [arxiv_id, relevance, list(labels), analyst, note, model_version, _now()],
            )

    def analyst_labels(self) -> list[tuple[str, str, list[str], str, str | None]]:
        """(arxiv_id, relevance, labels, title, abstract) of every analyst decision, by paper id."""
        return self.connection.execute(
            """SELECT a.arxiv_id, a.relevance, a.labels, p.title, p.abstract
               FROM analyst_labels a JOIN papers p USING (arxiv_id) ORDER BY a.arxiv_id"""
        ).fetchall()

    def least_certain(self, model_version: str, limit: int) -> list[tuple[str, str, str | None, str, float]]:
        """(arxiv_id, title, abstract, relevance, score) of the papers ``model_version`` is least sure about,
        leaving out those an analyst has decided already: by turns the least certain relevance decision and the
        paper whose task labels lie nearest their thresholds (``label_margin``), each paper once.

        Asking about both taught the model more in a simulation than either order alone (docs/classifier.md).
        """
        return self.connection.execute(
            """WITH undecided AS (
                   SELECT p.arxiv_id, p.title, p.abstract, c.relevance, c.relevance_score,
                          row_number() OVER (ORDER BY c.relevance_score, p.arxiv_id) AS by_relevance,
                          CASE WHEN c.label_margin IS NOT NULL
                               THEN row_number() OVER (ORDER BY c.label_margin NULLS LAST, p.arxiv_id) END AS by_labels
                   FROM classifications c JOIN papers p USING (arxiv_id)
                   WHERE c.model_version = ? AND c.content_hash = p.content_hash
                     AND p.arxiv_id NOT IN (SELECT arxiv_id FROM analyst_labels))
               SELECT arxiv_id, title, abstract, relevance, relevance_score FROM undecided
               ORDER BY least(2 * by_relevance - 1, 2 * by_labels), arxiv_id  -- odd turns relevance, even labels
               LIMIT ?""",
            [model_version, limit],
        ).fetchall()

    def store_classifications(self, model_version: str, results: Iterable[Classified], embedding: str = "") -> int:
        """Replace the model's labels of the given papers, and the vectors (of the ``embedding``) of those that
        were embedded, in one transaction; returns how many papers were stored."""
        results = list(results)
        if not results:
            return 0
        now = _now()
        embedded = [r for r in results if r.vector is not None]
        vectors = pa.table(
            {
                "arxiv_id": [r.arxiv_id for r in embedded],
                "embedding": [embedding] * len(embedded),
                "content_hash": [r.content_hash for r in embedded],
                # one flat float32 buffer, not 384 Python floats per paper: a backfill stores tens of thousands
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(np.asarray([r.vector for r in embedded], dtype=np.float32).reshape(-1)), VECTOR_SIZE
                ),
                "embedded_at": pa.array([now] * len(embedded), pa.timestamp("us")),
            }
        )
        summary = pa.table(
            {
                "arxiv_id": [r.arxiv_id for r in results],
                "model_version": [model_version] * len(results),
                "relevance": [r.relevance for r in results],
                "relevance_score": [r.relevance_score for r in results],
                "best_task_score": [r.best_task_score for r in results],
                "content_hash": [r.content_hash for r in results],
                "classified_at": pa.array([now] * len(results), pa.timestamp("us")),
                "label_margin": pa.array([r.label_margin for r in results], pa.float64()),
            }
        )
        label_rows = [(r.arxiv_id, f"relevance:{r.relevance}", r.relevance_score) for r in results] + [
            (r.arxiv_id, label, score) for r in results for label, score in r.labels.items()
        ]
        labels = pa.table(
            {
                "arxiv_id": [row[0] for row in label_rows],
                "model_version": [model_version] * len(label_rows),
                "label": [row[1] for row in label_rows],
                "score": [float(row[2]) for row in label_rows],
            }
        )
        with self._transaction(
            incoming_summary=summary, incoming_labels=labels, incoming_vectors=vectors
        ) as connection:
            connection.execute(
                """DELETE FROM classifications WHERE model_version = ?
                   AND arxiv_id IN (SELECT arxiv_id FROM incoming_summary)""",
                [model_version],
            )
            connection.execute(
                """DELETE FROM predictions WHERE model_version = ?
                   AND arxiv_id IN (SELECT arxiv_id FROM incoming_summary)""",
                [model_version],
            )
            connection.execute("INSERT INTO classifications BY NAME SELECT * FROM incoming_summary")
            connection.execute("INSERT INTO predictions SELECT * FROM incoming_labels")
            connection.execute("INSERT OR REPLACE INTO paper_embeddings SELECT * FROM incoming_vectors")
        return len(results)

    # -- search -----------------------------------------------------------------------------------
    def nearest_papers(
        self, vector: Sequence[float], limit: int, section: str | None = None, since: date | None = None
    ) -> list[tuple[str, str, float, str | None]]:
        """The embedded papers most similar (cosine) to ``vector``: (arxiv_id, title, similarity, relevance by
        the current model), best first; only those of ``section`` and submitted from ``since`` when given."""
        return self.connection.execute(
            f"""SELECT e.arxiv_id, p.title, array_cosine_similarity(e.vector, ?::FLOAT[{VECTOR_SIZE}]) AS similarity,
                       (SELECT replace(label, 'relevance:', '') FROM paper_labels l
                        WHERE l.arxiv_id = e.arxiv_id AND l.label LIKE 'relevance:%') AS relevance
                FROM paper_embeddings e JOIN papers p USING (arxiv_id)
                WHERE (?::VARCHAR IS NULL OR e.arxiv_id IN (SELECT arxiv_id FROM paper_sections WHERE section = ?))
                  AND (?::DATE IS NULL OR p.published >= ?)
                ORDER BY similarity DESC, e.arxiv_id LIMIT ?""",
            [list(map(float, vector)), section, section, since, since, limit],
        ).fetchall()

    def surest_audio_visual(self, since: date, until: date) -> str | None:
        """The id of the paper submitted from ``since`` to ``until`` that the current model calls audio-visual
        with the highest score, if any."""
        rows = self.connection.execute(
            """SELECT l.arxiv_id FROM paper_labels l JOIN papers p USING (arxiv_id)
               WHERE l.label = 'relevance:av' AND p.published >= ? AND p.published < ?::DATE + INTERVAL 1 DAY
               ORDER BY l.score DESC, l.arxiv_id LIMIT 1""",
            [since, until],
        ).fetchall()
        return rows[0][0] if rows else None

    def paper_vector(self, arxiv_id: str) -> list[float] | None:
        """The stored vector of a paper; None when it was never embedded (or is not in the warehouse)."""
        rows = self.connection.execute("SELECT vector FROM paper_embeddings WHERE arxiv_id = ?", [arxiv_id]).fetchall()
        return list(rows[0][0]) if rows else None

    def count_embedded(self) -> tuple[int, int]:
        """(papers with a stored vector, papers)."""
        [(embedded, papers)] = self.connection.execute(
            "SELECT (SELECT count(*) FROM paper_embeddings), (SELECT count(*) FROM papers)"
        ).fetchall()
        return embedded, papers

    # -- full text --------------------------------------------------------------------------------
    def papers_needing_text(self, model_version: str, limit: int | None = None) -> list[tuple[str, int]]:
        """(id, version) of audio-visual papers without text for their version, or whose download failed before;
        the ``limit`` newest of them when given."""
        return [
            (row[0], int(row[1]))
            for row in self.connection.execute(
                """SELECT p.arxiv_id, p.version FROM papers p
                   JOIN classifications c ON c.arxiv_id = p.arxiv_id AND c.model_version = ?
                   LEFT JOIN paper_texts t ON t.arxiv_id = p.arxiv_id AND t.version = p.version
                   WHERE c.relevance = 'av'
                     AND (t.arxiv_id IS NULL OR (t.status = 'failed' AND starts_with(t.reason, 'download:')))
                   ORDER BY p.published DESC, p.arxiv_id
                   LIMIT ?""",
                [model_version, limit],
            ).fetchall()
        ]

    def read_pdf_hashes(self) -> set[str]:
        """The SHA-256 of every PDF whose text is stored: their cached files are no longer needed."""
        rows = self.connection.execute(
            "SELECT DISTINCT pdf_sha256 FROM paper_texts WHERE text IS NOT NULL AND pdf_sha256 IS NOT NULL"
        ).fetchall()
        return {sha256 for (sha256,) in rows}

    def store_extraction(self, arxiv_id: str, version: int, extraction: Extraction, run_id: int | None) -> None:
        """Record one paper's extraction, a failure too (with its reason), and its parts, citations and mentions."""
        structure = extraction.structure
        text = extraction.text if extraction.has_text else None
        with self._transaction() as connection:
            connection.execute(
                "INSERT OR REPLACE INTO paper_texts BY NAME SELECT ? AS arxiv_id, ? AS version, ? AS status, "
                "? AS reason, ? AS pdf_sha256, ? AS n_pages, ? AS n_chars, ? AS text, ? AS extracted_at, "
                "? AS run_id, ? AS n_figures, ? AS n_tables, ? AS n_references",
                [
                    arxiv_id,
                    version,
                    extraction.status,
                    extraction.reason,
                    extraction.sha256,
                    extraction.n_pages,
                    len(text) if text else None,
                    text,
                    _now(),
                    run_id,
                    structure.n_figures if structure else None,
                    structure.n_tables if structure else None,
                    len(structure.references) if structure else None,
                ],
            )
            connection.execute("DELETE FROM paper_parts WHERE arxiv_id = ?", [arxiv_id])
            connection.execute("DELETE FROM citations WHERE citing_id = ?", [arxiv_id])
            if structure:
                _insert_rows(
                    connection,
                    "paper_parts",
                    [
                        (arxiv_id, position, section.part, section.heading, section.text)
                        for position, section in enumerate(structure.sections)
                    ],
                )
                _insert_rows(
                    connection,
                    "citations",
                    [(arxiv_id, cited) for cited in structure.cited_arxiv_ids if cited != arxiv_id],
                )
        if extraction.has_text:
            self.store_mentions(arxiv_id, extraction.mentions, "text")

    def audio_visual_abstracts_without_mentions(self, model_version: str) -> list[tuple[str, str]]:
        """(id, abstract) of audio-visual papers with no readable text and no mentions counted yet."""
        return self.connection.execute(
            """SELECT p.arxiv_id, p.abstract FROM papers p
               JOIN classifications c ON c.arxiv_id = p.arxiv_id AND c.model_version = ? AND c.relevance = 'av'
               WHERE p.abstract IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM paper_texts t
                                 WHERE t.arxiv_id = p.arxiv_id AND t.status IN ('ok', 'repaired'))
                 AND NOT EXISTS (SELECT 1 FROM mentions m WHERE m.arxiv_id = p.arxiv_id)""",
            [model_version],
        ).fetchall()

    def store_mentions(self, arxiv_id: str, mentions: Iterable[Mention], source: str) -> None:
        """Replace a paper's mentions with those found in its text (or its abstract)."""
        with self._transaction() as connection:
            connection.execute("DELETE FROM mentions WHERE arxiv_id = ?", [arxiv_id])
            _insert_rows(
                connection, "mentions", [(arxiv_id, m.name, m.kind, m.count, source, m.introduced) for m in mentions]
            )

    def import_checkpoint(self, source_file: str) -> ImportCheckpoint | None:
        """How far an earlier import loaded ``source_file`` (resolved path), if one did."""
        rows = self.connection.execute(
            "SELECT source_file, fingerprint, lines_done, complete, run_id FROM import_checkpoints "
            "WHERE source_file = ?",
            [source_file],
        ).fetchall()  # all: DuckDB refuses the next statement while a result is unread
        return ImportCheckpoint(*rows[0]) if rows else None

    def load_import_batch(
        self, records: Sequence[PaperRecord], rejected: Sequence[Rejected], checkpoint: ImportCheckpoint
    ) -> tuple[int, int]:
        """One batch of a backfill file in one transaction: its papers upserted, its rejected lines quarantined
        and the file's checkpoint moved past them, so a killed import resumes exactly after its last batch.
        Returns (new, updated)."""
        tables = {"incoming": _papers_table(records)} if records else {}
        with self._transaction(**tables) as connection:
            counts = _upsert_incoming(connection, checkpoint.run_id) if records else (0, 0)
            _insert_rows(connection, "rejected_records", _rejected_rows(checkpoint.run_id, rejected))
            connection.execute(
                "INSERT OR REPLACE INTO import_checkpoints VALUES (?, ?, ?, ?, ?, ?)",
                [*astuple(checkpoint), _now()],
            )
        return counts

    # -- reading ----------------------------------------------------------------------------------
    def query(self, sql: str, parameters: Sequence[Any] | None = None) -> tuple[list[str], list[tuple]]:
        """Run a query; returns column names and rows."""
        cursor = self.connection.execute(sql, parameters or [])
        if cursor is None:  # DuckDB's answer to a text that holds no statement (empty, comments only)
            raise ValueError(f"no SQL statement in {sql!r}")
        columns = [description[0] for description in cursor.description] if cursor.description else []
        return columns, cursor.fetchall()

    def publish(self) -> Path:
        """Copy the warehouse to the published snapshot atomically; analysts read that file."""
        self.connection.execute("CHECKPOINT")
        target = published_path(self.path)
        _copy_atomically(self.path, target)
        return target


def _papers_table(records: Sequence[PaperRecord]) -> pa.Table:
    """The records as an Arrow table of ``papers`` columns, one row per paper at its newest version."""
    latest: dict[str, PaperRecord] = {}
    for record in records:  # a window can list a paper twice; keep its newest version
        if record.arxiv_id not in latest or record.version >= latest[record.arxiv_id].version:
            latest[record.arxiv_id] = record
    rows = list(latest.values())
    return pa.table(
        {
            "arxiv_id": [r.arxiv_id for r in rows],
            "version": pa.array([r.version for r in rows], pa.int32()),
            "title": [r.title for r in rows],
            "abstract": [r.abstract for r in rows],
            "authors": pa.array([r.authors for r in rows], pa.list_(pa.string())),
            "categories": pa.array([r.categories for r in rows], pa.list_(pa.string())),
            "primary_category": [r.primary_category for r in rows],
            "comment": [r.comment for r in rows],
            "published": pa.array([_naive_utc(r.published) for r in rows], pa.timestamp("us")),
            "updated": pa.array([_naive_utc(r.updated) for r in rows], pa.timestamp("us")),
            "content_hash": [content_hash(r.title, r.abstract) for r in rows],
            "withdrawn": [is_withdrawn(r) for r in rows],
        }
    )


def _upsert_incoming(connection: duckdb.DuckDBPyConnection, run_id: int) -> tuple[int, int]:
    """Merge the registered ``incoming`` papers into ``papers`` and ``paper_versions`` inside the caller's
    transaction; returns (new, updated)."""
    now = _now()
    new = connection.execute("SELECT count(*) FROM incoming i ANTI JOIN papers p USING (arxiv_id)").fetchone()[0]
    updated = connection.execute(
        """SELECT count(*) FROM incoming i JOIN papers p USING (arxiv_id)
           WHERE i.version > p.version OR (i.version = p.version AND i.content_hash <> p.content_hash)"""
    ).fetchone()[0]
    # the history first: every version (or changed text) not seen before
    connection.execute(
        """INSERT INTO paper_versions
           SELECT i.arxiv_id, i.version, i.title, i.abstract, i.categories, i.comment, i.updated,
                  i.content_hash, ? AS run_id, ? AS loaded_at
           FROM incoming i ANTI JOIN paper_versions v USING (arxiv_id, version, content_hash)
           WHERE NOT EXISTS (SELECT 1 FROM papers p WHERE p.arxiv_id = i.arxiv_id AND p.version > i.version)""",
        [run_id, now],
    )
    connection.execute(
        """INSERT INTO papers BY NAME
           SELECT i.*, ? AS first_run_id, ? AS loaded_at
           FROM incoming i ANTI JOIN papers p USING (arxiv_id)""",
        [run_id, now],
    )
    connection.execute(
        """UPDATE papers SET version = i.version, title = i.title, abstract = i.abstract,
               authors = i.authors, categories = i.categories, primary_category = i.primary_category,
               comment = i.comment, published = i.published, updated = i.updated,
               content_hash = i.content_hash, withdrawn = i.withdrawn, loaded_at = ?
           FROM incoming i
           WHERE papers.arxiv_id = i.arxiv_id
             AND (i.version > papers.version
                  OR (i.version = papers.version AND i.content_hash <> papers.content_hash))""",
        [now],
    )
    return int(new), int(updated)


def _rejected_rows(run_id: int, rejected: Iterable[Rejected]) -> list[tuple]:
    now = _now()
    return [(run_id, r.source, r.line, r.arxiv_id, r.reason, r.excerpt, now) for r in rejected]


# What DuckDB says of a file cut short or overwritten (the checksum failure names no file); a full disk or
# another process's lock is not damage, and restoring would not help them.
_DAMAGE_SIGNS = ("Could not read enough bytes", "not a valid DuckDB database file", "Corrupt database file")


def is_lock_conflict(error: BaseException) -> bool:
    """Whether ``error`` is DuckDB refusing a file because another process holds its write lock."""
    return isinstance(error, duckdb.IOException) and "Could not set lock" in str(error)


def is_damage(error: BaseException, db_path: Path) -> bool:
    """Whether ``error`` says that the warehouse file ``db_path`` is damaged: cut short or overwritten."""
    text = str(error)
    names_another_file = 'file "' in text and f'"{db_path}"' not in text
    return isinstance(error, duckdb.Error) and any(sign in text for sign in _DAMAGE_SIGNS) and not names_another_file


def describe_failure(error: BaseException, db_path: Path) -> str:
    """A failed run's error in one line, with what to do when a warehouse file is damaged."""
    return f"{type(error).__name__}: {error}{damage_advice(error, db_path)}"


def damage_advice(error: BaseException, db_path: Path) -> str:
    """What to do when ``error`` says that the warehouse ``db_path`` or its published snapshot is damaged
    (a sentence to append to the error), else an empty string."""
    snapshot = published_path(db_path)
    if f'"{snapshot}"' in str(error) and is_damage(error, snapshot):
        return (
            f". The published snapshot {snapshot} cannot be read: `avi migrate` publishes the warehouse again "
            "(so does the next run)"
        )
    if is_damage(error, db_path):
        return (
            f". {db_path} cannot be read: `avi restore` puts back the published snapshot, the warehouse as the "
            "last run to finish left it (the damaged file is kept beside it), and the next run redoes what came after"
        )
    return ""


def restore_published(db_path: Path, force: bool = False) -> tuple[Path, str | None]:
    """Put the published snapshot (the warehouse as the last run to finish left it) back in the place of the
    warehouse file ``db_path``, which is kept beside it under a dated name, with its write-ahead log if it has
    one: the next run redoes what came after the snapshot. Returns where the file was kept and what could not
    be read of it (None: no file, or ``force``). Refused while another process writes it, when the snapshot
    does not read to its last row either, and, unless ``force``, when every row of the file reads: then there
    is nothing to restore."""
    snapshot = published_path(db_path)
    if not snapshot.exists():
        raise FileNotFoundError(f"no published snapshot at {snapshot} to restore {db_path} from")
    snapshot_damage = unreadable_part(snapshot)
    if snapshot_damage is not None:
        raise RuntimeError(f"the published snapshot {snapshot} cannot be read either ({snapshot_damage})")
    damage = unreadable_part(db_path) if db_path.exists() else None
    if db_path.exists() and damage is None and not force:
        raise RuntimeError(
            f"{db_path} reads whole (every row of every table): nothing to restore; `avi restore --force` "
            "replaces it with the snapshot anyway, losing what came after it"
        )
    # copied before anything moves: however the command is stopped, db_path is missing only between two renames
    # (a run meeting no file would start an empty warehouse and publish it over the snapshot)
    staged = _copy_beside(snapshot, db_path)
    kept = kept_aside(db_path)
    for damaged, aside in ((db_path, kept), (Path(f"{db_path}.wal"), Path(f"{kept}.wal"))):
        if damaged.exists():  # the log too: replayed on the restored file, it would damage it again
            os.replace(damaged, aside)
    os.replace(staged, db_path)
    return kept, damage


def unreadable_part(db_path: Path) -> str | None:
    """Why the warehouse file cannot be read to its last row (DuckDB's error), or None when every row of every
    table reads. Raises RuntimeError while another process writes the file."""
    try:
        connection = duckdb.connect(str(db_path), read_only=True)
    except duckdb.Error as error:
        if is_lock_conflict(error):
            raise RuntimeError(f"a run is writing to {db_path}; restore it once that run has ended") from None
        return str(error)
    try:
        for (table,) in connection.execute("SELECT table_name FROM duckdb_tables()").fetchall():
            connection.execute(f'SELECT sum(hash(COLUMNS(*))) FROM "{table}"').fetchall()  # every value read
    except duckdb.Error as error:
        return str(error)
    finally:
        connection.close()
    return None


def _copy_atomically(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` so that a reader sees the old file or the new one, never half of one."""
    os.replace(_copy_beside(source, target), target)


def _copy_beside(source: Path, target: Path) -> Path:
    """A copy of ``source`` in a temporary file beside ``target`` (returned), to be renamed into place; a failed
    copy (a full disk) leaves no partial file behind to fill it further."""
    temporary = target.with_name(f"{target.name}.tmp")
    try:
        shutil.copyfile(source, temporary)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def open_for_reading(db_path: Path) -> Warehouse:
    """A read-only connection to the published snapshot (never blocked by a running ingestion)."""
    return Warehouse(published_path(db_path), read_only=True)
