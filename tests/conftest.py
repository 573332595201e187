"""Shared fixtures: an isolated AVI_HOME and Prefect home, real shared data, and the mirror over HTTP."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("AVI_SHARED_DIR", REPO.parent / "shared"))
DAILY_CORPUS = SHARED / "corpus" / "arxiv_daily_2025-2026.jsonl.gz"
PDF_FIXTURES = SHARED / "fixtures" / "pdf"
TEST_DAY = "2026-05-05"
NEXT_DAY = "2026-05-06"

# Before anything imports prefect: a private Prefect home per test session, no analytics.
_SESSION_HOME = Path(os.environ.get("PYTEST_AVI_TMP", "/tmp")) / f"avi-tests-{os.getpid()}"
os.environ["PREFECT_HOME"] = str(_SESSION_HOME / "prefect")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_TO_API_ENABLED"] = "false"
os.environ["AVI_SHARED_DIR"] = str(SHARED)
os.environ["AVI_REQUEST_DELAY_S"] = "0"
os.environ["AVI_BACKOFF_S"] = "0.05"
os.environ["AVI_SCREEN_BACKGROUND"] = "3000"  # screens learn from a small unlabeled sample: quick training
os.environ.setdefault("HF_HUB_OFFLINE", "1")
# Real embeddings, kept between runs (keyed by model and text hash, so never stale): the fast tier embeds a
# text once, not once per run. AVI_TEST_EMBEDDING_CACHE names another file, e.g. an empty one for a cold run.
_EMBEDDING_CACHE = Path(
    os.environ.get("AVI_TEST_EMBEDDING_CACHE", Path(tempfile.gettempdir()) / "avi-tests-embeddings.sqlite")
)
_SESSION_HOME.mkdir(parents=True, exist_ok=True)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Remove the session's Prefect home (its server has stopped with the session's fixtures): a run leaves
    only the shared embedding cache behind."""
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


def write_corpus(path: Path, rows: Iterable[dict]) -> Path:
    """``rows`` as a gzipped corpus file (one JSON object per line, the format of ``shared/corpus``) at ``path``."""
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row) + "\n" for row in rows)
    return path


def summary_of(output: str) -> dict:
    """The summary a command prints last, one line of JSON, from its captured standard output."""
    return json.loads(output.strip().splitlines()[-1])


def import_rows(rows: Iterable[dict], corpus_file: Path, capsys: pytest.CaptureFixture) -> list[str]:
    """``avi import`` of ``rows`` written as a corpus file at ``corpus_file`` into the test's home, its output
    swallowed; the ids of the papers the warehouse then holds, in order."""
    from avi_radar.cli import main
    from core.settings import get_settings
    from warehouse.db import open_for_reading

    write_corpus(corpus_file, rows)
    assert main(["import", str(corpus_file)]) == 0
    capsys.readouterr()
    with open_for_reading(get_settings().db_path) as warehouse:
        return [row[0] for row in warehouse.query("SELECT arxiv_id FROM papers ORDER BY arxiv_id")[1]]


def require_shared() -> None:
    """Fail clearly when the shared data is missing: these tests are about real data."""
    if not DAILY_CORPUS.exists():
        pytest.fail(f"the shared corpus is missing at {DAILY_CORPUS}; clone the repo beside shared/")


@pytest.fixture(autouse=True)
def avi_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own AVI_HOME; the embedding cache is shared across tests and runs for speed."""
    from core import settings as settings_module

    home = tmp_path / "avi-home"
    monkeypatch.setenv("AVI_HOME", str(home))
    monkeypatch.setenv("AVI_EMBEDDING_CACHE", str(_EMBEDDING_CACHE))
    settings_module.reset_settings()
    yield home
    settings_module.reset_settings()


@pytest.fixture(scope="session")
def two_days_rows() -> list[dict]:
    """The real corpus rows announced on TEST_DAY and NEXT_DAY."""
    require_shared()
    days = (f'"announced": "{TEST_DAY}"', f'"announced": "{NEXT_DAY}"')
    with gzip.open(DAILY_CORPUS, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if any(day in line for day in days)]
    return [row for row in rows if row["announced"] in (TEST_DAY, NEXT_DAY)]


@pytest.fixture(scope="session")
def day_rows(two_days_rows: list[dict]) -> list[dict]:
    """The real corpus rows announced on TEST_DAY."""
    return [row for row in two_days_rows if row["announced"] == TEST_DAY]


@pytest.fixture(scope="session")
def next_day_rows(two_days_rows: list[dict]) -> list[dict]:
    """The real corpus rows announced on NEXT_DAY."""
    return [row for row in two_days_rows if row["announced"] == NEXT_DAY]


@pytest.fixture(scope="session")
def day_corpus(two_days_rows: list[dict], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two days' rows as a gzipped corpus file (written to a temporary folder, never the repo)."""
    return write_corpus(tmp_path_factory.mktemp("corpus") / f"days-{TEST_DAY}.jsonl.gz", two_days_rows)


@pytest.fixture(scope="session")
def mirror(day_corpus: Path) -> Iterator[str]:
    """The mirror over TEST_DAY and NEXT_DAY, serving over real HTTP on loopback; yields its base URL."""
    from mirror.server import MirrorServer, load_mirror_data

    server = MirrorServer(load_mirror_data([day_corpus], PDF_FIXTURES))
    server.start_in_thread()
    yield server.base_url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="session")
def embedder():
    """The real all-MiniLM-L6-v2 embedder, loaded once per session, with the session's cache."""
    from classify.embed import CachedEmbedder, SentenceEmbedder

    return CachedEmbedder(SentenceEmbedder(device="cpu"), _EMBEDDING_CACHE)


@pytest.fixture(scope="session", autouse=True)
def prefect_server(request: pytest.FixtureRequest) -> Iterator[None]:
    """One Prefect test server for the session instead of an ephemeral one per flow run (about 7 s each);
    started only when a slow test is selected, since only those run flows."""
    if not any(item.get_closest_marker("slow") for item in request.session.items):
        yield
        return
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


@pytest.fixture(scope="session")
def small_labels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every fourth row of the shared training labels (written to a temporary file): quick to train on."""
    require_shared()
    rows = (SHARED / "labels" / "train.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path_factory.mktemp("labels") / "small.jsonl"
    path.write_text("\n".join(rows[::4]) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def small_shared(small_labels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A shared folder with the small labels as its only label file and the real corpus and fixtures (linked),
    made the settings' ``AVI_SHARED_DIR``: what a fresh machine has, quick to train on."""
    from core import settings as settings_module

    shared = tmp_path / "shared"
    (shared / "labels").mkdir(parents=True)
    (shared / "labels" / "train.jsonl").symlink_to(small_labels)
    for name in ("corpus", "fixtures"):
        (shared / name).symlink_to(SHARED / name)
    monkeypatch.setenv("AVI_SHARED_DIR", str(shared))
    monkeypatch.setenv("AVI_SCREEN_BACKGROUND", "300")
    settings_module.reset_settings()
    return shared


@pytest.fixture
def day_warehouse(day_rows: list[dict], embedder) -> Path:
    """A real warehouse of one real day, labelled by the zero-shot classifier with its embeddings stored: for
    the report, the hub patch, BibTeX and search."""
    from datetime import UTC, datetime

    from classify.labels import paper_text
    from classify.model import ZeroShotClassifier
    from classify.taxonomy import load_taxonomy
    from core.records import PaperRecord, content_hash
    from core.settings import get_settings
    from warehouse.db import Classified, Warehouse

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
    texts = [paper_text(r.title, r.abstract) for r in records]
    predictions, vectors = classifier.predict(texts), embedder.encode(texts)
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
                    vector=v,
                )
                for r, p, v in zip(records, predictions, vectors, strict=True)
            ],
            embedding=embedder.name,
        )
        warehouse.publish()
    return settings.db_path
