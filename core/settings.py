"""The one settings object of avi-radar, and the owner of the data directory.

Every value comes from an environment variable with the ``AVI_`` prefix, or from an optional TOML file
named by ``AVI_CONFIG_FILE`` (environment variables win). No other module builds a path under
``AVI_HOME``: they ask this object for it.
"""

from __future__ import annotations

import getpass
import os
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from difflib import get_close_matches
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

DEFAULT_CATEGORIES = "cs.CV,cs.SD,eess.AS,eess.IV,cs.MM,cs.CL,cs.AI,cs.LG,cs.RO,cs.GR,cs.HC"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ArxivAccess:
    """The part of the settings that talking to arXiv needs: where it is and how politely to ask."""

    url: str
    timeout_s: float
    retries: int
    backoff_s: float
    delay_s: float
    page_size: int


class Settings(BaseSettings):
    """Run-time configuration; read once per process with :func:`get_settings`."""

    # an empty variable (``AVI_EMBEDDING_CACHE=``) means the default, as operators blank one to unset it
    model_config = SettingsConfigDict(env_prefix="AVI_", extra="ignore", env_ignore_empty=True)

    home: Path = Field(default=Path("./var"), description="Data directory: DuckDB file, PDFs, models, reports.")
    arxiv_url: str = Field(
        default="https://export.arxiv.org",
        description="Base URL of arXiv (API at /api/query, PDFs at /pdf/ID); a mirror in tests and demos.",
    )
    categories: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: DEFAULT_CATEGORIES.split(","),
        description="arXiv categories harvested, comma-separated (a paper in any of them is taken).",
    )
    taxonomy_file: Path = Field(
        default=PACKAGE_ROOT / "classify" / "taxonomy.yaml",
        description="The survey's taxonomy (labels, descriptions, hub headings); another survey, another file.",
    )
    shared_dir: Path = Field(default=PACKAGE_ROOT.parent / "shared", description="Labels and corpus, if present.")

    harvest_source: Literal["oai", "api"] = Field(
        default="oai", description="Nightly source: OAI-PMH datestamps (new versions too) or the API's submittedDate."
    )
    request_delay_s: float = Field(default=3.0, description="Pause between two requests to the same host.")
    request_timeout_s: float = Field(default=30.0, description="Timeout of every HTTP request.")
    request_retries: int = Field(default=4, description="Retries after a failed request, with backoff.")
    backoff_s: float = Field(default=2.0, description="First backoff pause; doubles with every retry.")
    page_size: int = Field(default=500, description="Results per arXiv API page.")

    device: str = Field(
        default="auto",
        pattern=r"^(auto|cpu|cuda)$",
        description="auto, cpu or cuda: where embeddings and the classifier run (CUDA_VISIBLE_DEVICES picks the GPU).",
    )
    embed_batch_size: int | None = Field(
        default=None,
        description="Texts per forward pass (default: 16 on a CPU, where small batches are fastest; 512 on CUDA).",
    )
    embed_bf16_on_cpu: bool = Field(
        default=True,
        description="Embed with bf16 weights on CPUs that compute bf16 natively (AMX, AVX-512 BF16); false: fp32.",
    )
    warehouse_memory_limit: str = Field(
        default="256MB",
        description="DuckDB's buffer pool while ingesting, importing and reclassifying (DuckDB's own default is 80 %"
        " of memory; it spills to disk beyond it).",
    )
    embed_max_tokens: int = Field(
        default=256, ge=16, le=256, description="Tokens of each text the embedding sees (256: the model's own limit)."
    )
    screen_max_loss: float = Field(
        default=0.005,
        ge=0,
        le=0.1,
        description="Share of labeled relevant papers (with abstract, out of fold) the words-only screen may "
        "turn away unembedded; 0: no screen, every paper is embedded.",
    )
    import_batch: int = Field(
        default=5000,
        ge=1,
        description="Dump lines `avi import` loads per transaction; a killed import resumes after the last one.",
    )
    screen_background: int = Field(
        default=20000, ge=0, description="Unlabeled corpus papers the screen learns ordinary papers from."
    )
    train_on_taxonomy: bool = Field(
        default=True,
        description="Train on the taxonomy's own words too: each label's description and key terms"
        " as labeled examples.",
    )
    train_cv_folds: int = Field(
        default=5,
        ge=0,
        description="Folds whose out-of-fold scores choose the default model's thresholds and measure it (its"
        " stored figures, at no extra cost); below 2: 5 for it, and no measurement for embedding-logreg.",
    )
    pdf_workers: int = Field(default=2, description="Parallel PDF downloads and extraction processes.")
    texts_per_run: int = Field(
        default=300,
        ge=1,
        description="PDFs an ingest run reads at most, newest papers first: a backfill's audio-visual papers are "
        "read over the next nights, each night bounded (300 at arXiv's 3 s a request: 15 minutes).",
    )
    keep_pdfs: Literal["unread", "all"] = Field(
        default="unread",
        description="Which downloaded PDFs stay under AVI_HOME/pdf once their text is stored: unread (those whose "
        "text could not be read, to look into with `avi extract`) or all (some MB a paper, every night).",
    )
    max_pdf_bytes: int = Field(default=50_000_000, description="Larger PDFs are refused.")
    max_pdf_pages: int = Field(default=300, description="PDFs with more pages are refused.")
    pdf_timeout_s: float = Field(default=60.0, description="Time limit for reading one PDF.")
    pdf_memory_mb: int = Field(default=2048, description="Memory a PDF worker may use beyond its start size.")
    nightly_cron: str = Field(default="30 1 * * 1-5", description="Nightly run (UTC), after arXiv's announcement.")
    monthly_cron: str = Field(default="0 6 1 * *", description="Monthly report, first day of the month (UTC).")
    alert_webhook: str | None = Field(default=None, description="URL that receives a JSON message when a run fails.")
    hub_readme: Path | None = Field(
        default=None,
        description="The survey's hub README: when set, each monthly report writes the month's hub patch beside it.",
    )
    digest_webhook: str | None = Field(
        default=None, description="URL that receives a Slack-compatible JSON summary of each nightly digest."
    )
    feed_entries: int = Field(default=100, ge=1, description="Papers each Atom feed under AVI_HOME/feeds holds.")
    arxiv_rate_limit: str = Field(
        default="arxiv-requests", description="Prefect global rate limit shared by every request to arXiv."
    )
    analyst: str | None = Field(
        default=None, description="Name recorded with an analyst's decisions (default: the login name)."
    )
    embedding_cache: Path | None = Field(
        default=None, description="Embedding cache file, if not the one under AVI_HOME (shared between homes)."
    )

    @field_validator("categories", mode="before")
    @classmethod
    def _split_categories(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Explicit values, then the ``AVI_`` variables, then ``AVI_CONFIG_FILE`` (TOML) when set: the
        environment overrides the file. No ``.env`` file and no secrets directory are read."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("AVI_CONFIG_FILE")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    # The data directory layout: the only place that names paths under AVI_HOME.
    @cached_property
    def home_dir(self) -> Path:
        """``AVI_HOME`` resolved and created."""
        path = self.home.expanduser().resolve()
        path.mkdir(parents=True, exist_ok=True)
        return path

    def _subdir(self, name: str) -> Path:
        path = self.home_dir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    @property
    def db_path(self) -> Path:
        """The DuckDB warehouse written by ingestion."""
        return self.home_dir / "avi.duckdb"

    @property
    def logs_dir(self) -> Path:
        """Where the log lines go while progress bars show on a terminal (``avi.log``)."""
        return self._subdir("logs")

    @property
    def pdf_dir(self) -> Path:
        """Downloaded PDFs (content-addressed; ``AVI_KEEP_PDFS`` says which stay)."""
        return self._subdir("pdf")

    @property
    def models_dir(self) -> Path:
        """Model registry: one folder per trained model version."""
        return self._subdir("models")

    @property
    def reports_dir(self) -> Path:
        """Default output folder of monthly reports."""
        return self._subdir("reports")

    @property
    def arxiv_access(self) -> ArxivAccess:
        """What the arXiv clients and the PDF download read."""
        return ArxivAccess(
            self.arxiv_url,
            self.request_timeout_s,
            self.request_retries,
            self.backoff_s,
            self.request_delay_s,
            self.page_size,
        )

    @property
    def digests_dir(self) -> Path:
        """Where the nightly digests go (``YYYY-MM-DD.md`` and ``.html``)."""
        return self._subdir("digests")

    @property
    def feeds_dir(self) -> Path:
        """Where the Atom feeds go (``audio-visual.atom`` and one per section)."""
        return self._subdir("feeds")

    @property
    def hub_patch_dir(self) -> Path:
        """Default output folder of ``avi hub-patch``."""
        return self.home_dir / "hub-patch"

    @property
    def export_dir(self) -> Path:
        """Default output folder of ``avi export``."""
        return self.home_dir / "export"

    @property
    def prefect_home(self) -> Path:
        """Prefect's state, when the operator has not chosen ``PREFECT_HOME``."""
        return self.home_dir / "prefect"

    @property
    def analyst_name(self) -> str:
        """Who is deciding: ``AVI_ANALYST``, else the login name."""
        return self.analyst or getpass.getuser()

    @property
    def embedding_cache_path(self) -> Path:
        """Embeddings keyed by text hash, so no text is embedded twice."""
        return self.embedding_cache or self._subdir("cache") / "embeddings.sqlite"

    @property
    def default_labels(self) -> list[Path]:
        """Every label file under ``shared/labels`` (``train.jsonl`` and ``judged/*.jsonl``) that exists."""
        labels_dir = self.shared_dir / "labels"
        files = [labels_dir / "train.jsonl", *sorted((labels_dir / "judged").glob("*.jsonl"))]
        return [path for path in files if path.exists()]

    @property
    def default_corpus(self) -> list[Path]:
        """The corpus files under ``shared/corpus`` that exist."""
        return sorted((self.shared_dir / "corpus").glob("*.jsonl.gz"))


def kept_aside(path: Path) -> Path:
    """Where a damaged file is kept when a new one takes its place: beside it, named for when (UTC)."""
    return path.with_name(f"{path.name}.damaged-{datetime.now(UTC):%Y%m%dT%H%M%S}")


_settings: Settings | None = None


def get_settings() -> Settings:
    """The process-wide settings, read from the environment on first use; a bad value or config file raises
    ValueError naming the variable or file and the problem."""
    global _settings
    if _settings is None:
        config_file = os.environ.get("AVI_CONFIG_FILE")
        try:
            if config_file:
                _check_config_file(Path(config_file))
            _settings = Settings()
        except tomllib.TOMLDecodeError as error:
            raise ValueError(f"{config_file}: not valid TOML: {error}") from None
        except ValidationError as error:
            problems = "; ".join(
                f"AVI_{'_'.join(map(str, problem['loc'])).upper()}: {problem['msg']} (got {problem['input']!r})"
                for problem in error.errors()
            )
            source = f"{config_file} and the AVI_ variables" if config_file else "the AVI_ variables"
            raise ValueError(f"bad settings in {source}: {problems}") from None
    return _settings


def _check_config_file(path: Path) -> None:
    """Refuse a config file that is missing or names a setting that does not exist: either would otherwise be
    ignored without a word, and a misspelt setting silently keeps its default."""
    if not path.is_file():
        raise ValueError(f"AVI_CONFIG_FILE names {path}, which is not a file")
    unknown = sorted(set(tomllib.loads(path.read_text(encoding="utf-8"))) - set(Settings.model_fields))
    if unknown:
        hints = [
            f"{name} (did you mean {close[0]}?)"
            if (close := get_close_matches(name, Settings.model_fields, 1))
            else name
            for name in unknown
        ]
        raise ValueError(f"{path}: no such setting: {', '.join(hints)}; `avi settings` lists them all")


def reset_settings() -> None:
    """Forget the cached settings so the next :func:`get_settings` rereads the environment (tests)."""
    global _settings
    _settings = None


@contextmanager
def overridden_settings(**changes: Any) -> Iterator[Settings]:
    """The process-wide settings with ``changes`` applied while inside (what :func:`get_settings` returns
    there, to flows run in this process too), then the previous ones again; the environment is untouched."""
    global _settings
    previous = _settings
    _settings = get_settings().model_copy(update=changes)
    try:
        yield _settings
    finally:
        _settings = previous
