"""The model registry under ``AVI_HOME/models``: every trained model kept with its metadata.

Layout: ``models/<version>/model.pkl`` and ``meta.json``, and ``models/CURRENT`` naming the model
the pipeline uses. ``meta.json`` holds the model's cross-validated metrics, the hashes of its training
labels and of the taxonomy, and the embedding it reads. Without any trained model the zero-shot
classifier stands in.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import joblib

from classify.embed import Embedder
from classify.figures import Evaluation
from classify.head import TorchHeadClassifier
from classify.model import EmbeddingBasedClassifier, EmbeddingClassifier, ZeroShotClassifier, zero_shot_version
from classify.taxonomy import Taxonomy

TrainedClassifier = TorchHeadClassifier | EmbeddingClassifier
MODEL_FILE = "model.pkl"
JOBLIB_MODEL_FILE = "model.joblib"  # the file of models registered before the pickle


@dataclass(frozen=True)
class ModelInfo:
    """What the registry records about one trained model."""

    version: str
    kind: str
    created_at: str
    taxonomy_fingerprint: str
    labels_fingerprint: str
    n_papers: int
    thresholds: dict[str, float]
    metrics: Evaluation | None  # cross-validated on the training labels at training time; None without it
    embedding: str = "all-MiniLM-L6-v2"  # what its inputs are: a model reads only the embedding it was trained on
    taxonomy_examples: int = 0  # examples written from the taxonomy it also trained on (none before they existed)


def new_version(kind: str, taxonomy_fingerprint: str, labels_fingerprint: str) -> str:
    """A sortable, unique version string: kind, UTC time and a hash of what the model was trained on."""
    now = datetime.now(UTC)
    digest = hashlib.sha256(f"{taxonomy_fingerprint}{labels_fingerprint}{now.isoformat()}".encode()).hexdigest()[:6]
    return f"{kind}-{now:%Y%m%dT%H%M%S}-{digest}"


def save_model(models_dir: Path, model: TrainedClassifier, info: ModelInfo, make_current: bool = True) -> Path:
    """Store a trained model and, by default, make it the one the pipeline uses."""
    folder = models_dir / info.version
    folder.mkdir(parents=True, exist_ok=False)
    # the C pickler: a model holds vocabularies of tens of thousands of words, which joblib's Python-level
    # pickler writes and reads one object at a time (docs/benchmarks.md, "Model files")
    with (folder / MODEL_FILE).open("wb") as handle:
        pickle.dump(model, handle, protocol=pickle.HIGHEST_PROTOCOL)
    meta = {**asdict(info), "metrics": info.metrics.to_json() if info.metrics else {}}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
    if make_current:
        make_current_model(models_dir, info.version)
    return folder


def _model_info(meta: dict) -> ModelInfo:
    """A ``meta.json``'s record, its metrics typed (stored as ``{}`` when the model was not measured)."""
    return ModelInfo(**{**meta, "metrics": Evaluation.from_json(meta["metrics"]) if meta["metrics"] else None})


def _meta_path(models_dir: Path, version: str) -> Path:
    """Where a registered model's ``meta.json`` lies."""
    return models_dir / version / "meta.json"


def require_registered(models_dir: Path, version: str) -> None:
    """Raise ``FileNotFoundError``, naming the registered models, unless ``version`` is one of them."""
    if not _meta_path(models_dir, version).exists():
        known = ", ".join(info.version for info in list_models(models_dir)) or "none"
        raise FileNotFoundError(f"model {version} is not in the registry {models_dir} (registered: {known})")


def make_current_model(models_dir: Path, version: str) -> None:
    """Point ``CURRENT`` at a registered model (the pipeline's next runs use it)."""
    require_registered(models_dir, version)
    pointer = models_dir / "CURRENT"
    temporary = pointer.with_suffix(".tmp")
    temporary.write_text(version, encoding="utf-8")
    os.replace(temporary, pointer)


def list_models(models_dir: Path) -> list[ModelInfo]:
    """Every registered model, oldest first."""
    return [
        _model_info(json.loads(meta.read_text(encoding="utf-8"))) for meta in sorted(models_dir.glob("*/meta.json"))
    ]


def current_version(models_dir: Path) -> str | None:
    """The version named by ``CURRENT``, if a model has been trained."""
    pointer = models_dir / "CURRENT"
    return pointer.read_text(encoding="utf-8").strip() if pointer.exists() else None


def active_model(models_dir: Path, taxonomy: Taxonomy) -> tuple[str, str]:
    """(version, kind) of the model the pipeline uses, without loading it."""
    version = current_version(models_dir)
    if version is None:
        return zero_shot_version(taxonomy), ZeroShotClassifier.kind
    meta = json.loads(_meta_path(models_dir, version).read_text(encoding="utf-8"))
    return version, meta["kind"]


def registered_model(models_dir: Path, version: str) -> ModelInfo | None:
    """What the registry records about a model (its thresholds, its cross-validated figures: None for a quick
    retrain, and for a kind other than the head trained with ``AVI_TRAIN_CV_FOLDS`` below 2); None for the
    zero-shot classifier, which is not in the registry."""
    meta = _meta_path(models_dir, version)
    return _model_info(json.loads(meta.read_text(encoding="utf-8"))) if meta.exists() else None


def _read_model(models_dir: Path, version: str) -> TrainedClassifier:
    folder = models_dir / version
    for name, load in ((MODEL_FILE, _unpickle), (JOBLIB_MODEL_FILE, joblib.load)):  # joblib: before model.pkl
        if (folder / name).exists():
            try:
                return load(folder / name)
            except (pickle.UnpicklingError, EOFError, ValueError, AttributeError, ImportError) as error:
                raise RuntimeError(
                    f"the file of model {version}, {folder / name}, cannot be read ({type(error).__name__}: "
                    f"{error}): retrain with `avi train`, or go back to an earlier model with `avi reclassify "
                    "--model VERSION` (`avi models` lists them)"
                ) from error
    raise FileNotFoundError(f"model {version} is not in the registry ({models_dir})")


def _unpickle(path: Path) -> TrainedClassifier:
    with path.open("rb") as handle:
        return pickle.load(handle)  # noqa: S301 - the registry's own files, written by save_model


def load_classifier(
    models_dir: Path, taxonomy: Taxonomy, embedder: Embedder, version: str | None = None
) -> EmbeddingBasedClassifier:
    """The requested (or current) trained model; the zero-shot classifier when none has been trained."""
    version = version or current_version(models_dir)
    if version is None or version == zero_shot_version(taxonomy):
        return ZeroShotClassifier(taxonomy, embedder)
    model = _read_model(models_dir, version)
    if model.taxonomy.label_ids != taxonomy.label_ids:
        raise ValueError(f"model {version} was trained on another taxonomy; retrain with `avi train`")
    trained_on = getattr(model, "embedding", embedder.name)
    if trained_on != embedder.name:
        raise ValueError(
            f"model {version} reads {trained_on} embeddings but the embedder makes {embedder.name} "
            "(AVI_EMBED_MAX_TOKENS changed?): retrain with `avi train` or restore the setting"
        )
    model.embedder = embedder
    return model
