"""The analyst in the loop: ``avi label`` records decisions, ``avi explain`` shows why the model decided.

Decisions go into the warehouse's ``analyst_labels`` table (the write connection: if an ingestion run
holds it, ``avi label`` says so and records nothing) and are published at once, so ``avi train`` and
analysts' queries see them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable

import duckdb

from classify.registry import active_model
from classify.taxonomy import RELEVANCE_CLASSES, Taxonomy, load_taxonomy
from core.settings import Settings
from core.wording import counted
from warehouse.db import Warehouse, is_lock_conflict, open_for_reading, require_warehouse

ANSWERS = {"a": "av", "c": "context", "n": "none"}


def _checked_labels(taxonomy: Taxonomy, relevance: str, labels: list[str]) -> list[str]:
    unknown = sorted(set(labels) - set(taxonomy.label_ids))
    if unknown:
        raise ValueError(f"labels outside the taxonomy: {', '.join(unknown)}")
    if relevance == "none" and labels:
        raise ValueError("a paper decided 'none' carries no label")
    return labels


def _open_for_writing(settings: Settings) -> Warehouse:
    require_warehouse(settings.db_path)  # a decision needs papers to be about
    try:
        return Warehouse(settings.db_path)
    except duckdb.IOException as error:
        if not is_lock_conflict(error):
            raise
        raise RuntimeError(
            f"the warehouse is being written by a run ({error}); decide again when it has finished"
        ) from None


def record_decision(
    settings: Settings, arxiv_id: str, relevance: str | None, labels: str | None, note: str | None
) -> None:
    """Record one decision given on the command line, and publish it."""
    if relevance not in RELEVANCE_CLASSES:
        raise ValueError(f"--paper needs --relevance, one of {', '.join(RELEVANCE_CLASSES)}")
    taxonomy = load_taxonomy(settings.taxonomy_file)
    chosen = _checked_labels(taxonomy, relevance, [label for label in (labels or "").split(",") if label])
    with _open_for_writing(settings) as warehouse:
        try:
            warehouse.record_analyst_label(arxiv_id, relevance, chosen, settings.analyst_name, note)
        except KeyError as error:
            raise ValueError(str(error).strip("'")) from None
        warehouse.publish()


def _reply(ask: Callable[[str], str], prompt: str) -> str | None:
    """The analyst's reply, stripped; None when the input ends (Ctrl-D, a closed pipe), which ends the session
    as ``q`` does, keeping the decisions made."""
    try:
        return ask(prompt).strip()
    except EOFError:
        return None


def _chosen_labels(reply: str, proposed: list[str]) -> list[str]:
    """The labels a reply names: numbers of the ``proposed`` labels or label ids, comma-separated; an empty
    reply takes the proposed ones. Raises ValueError for a number no proposed label has."""
    chosen = []
    for item in (item.strip() for item in reply.split(",")):
        if item.isdigit():
            if not 1 <= int(item) <= len(proposed):
                raise ValueError(f"no proposed label is numbered {item} (1 to {len(proposed)})")
            chosen.append(proposed[int(item) - 1])
        elif item:
            chosen.append(item)
    return chosen or list(proposed)


def label_session(settings: Settings, limit: int, ask: Callable[[str], str], say: Callable[[str], None]) -> int:
    """Show the ``limit`` papers the current model is least sure of (by turns: its relevance decision, its task
    labels; :meth:`warehouse.db.Warehouse.least_certain`) and record the analyst's answers.

    For each: ``a``/``c``/``n`` (audio-visual, context, none), ``s`` to skip, ``q`` to stop; then the
    labels, as numbers of the proposed ones or label ids (empty: the proposed ones). Returns how many
    decisions were recorded.
    """
    taxonomy = load_taxonomy(settings.taxonomy_file)
    version, _ = active_model(settings.models_dir, taxonomy)
    recorded = 0
    with _open_for_writing(settings) as warehouse:
        candidates = warehouse.least_certain(version, limit)
        if not candidates:
            unlabelled = len(warehouse.papers_to_classify(version))
            if unlabelled:
                carry = "carries" if unlabelled == 1 else "carry"
                say(
                    f"{counted(unlabelled, 'paper')} {carry} no labels of the current model {version} yet: "
                    "`avi reclassify` labels them from the cached embeddings (nothing is downloaded), then "
                    "`avi label` asks"
                )
            else:
                say(f"no paper waits for a decision (model {version})")
        for position, (arxiv_id, title, abstract, relevance, score) in enumerate(candidates, start=1):
            proposed = warehouse.query(
                "SELECT label, score FROM predictions WHERE arxiv_id = ? AND model_version = ? "
                "AND NOT starts_with(label, 'relevance:') ORDER BY score DESC",
                [arxiv_id, version],
            )[1]
            say(f"\n[{position}/{len(candidates)}] {arxiv_id}  {title}")
            say(textwrap.fill(abstract or "(no abstract)", width=100, initial_indent="  ", subsequent_indent="  "))
            say(f"  model {version}: {relevance} ({score:.2f})")
            for number, (label, label_score) in enumerate(proposed, start=1):
                say(f"    {number}. {label} ({label_score:.2f})")
            answer = _reply(ask, "relevance [a]v / [c]ontext / [n]one, [s]kip, [q]uit: ")
            if answer is None or answer.lower() == "q":
                break
            if answer.lower() not in ANSWERS:
                continue
            decided = ANSWERS[answer.lower()]
            reply = ""
            if decided != "none":
                reply = _reply(ask, "labels (numbers above or label ids, comma-separated; empty: as proposed): ")
                if reply is None:
                    break
            try:
                chosen = _chosen_labels(reply, [label for label, _ in proposed]) if decided != "none" else []
                warehouse.record_analyst_label(
                    arxiv_id, decided, _checked_labels(taxonomy, decided, chosen), settings.analyst_name, None, version
                )
            except ValueError as error:
                say(f"  not recorded: {error}")
                continue
            recorded += 1
        warehouse.publish()
    return recorded


def explain_paper(settings: Settings, arxiv_id: str, model_version: str | None) -> str:
    """A readable explanation of the model's prediction for a paper of the published warehouse."""
    from classify.embed import default_embedder
    from classify.explain import explain
    from classify.registry import load_classifier

    with open_for_reading(settings.db_path) as warehouse:
        rows = warehouse.query("SELECT title, abstract FROM papers WHERE arxiv_id = ?", [arxiv_id])[1]
    if not rows:
        raise ValueError(f"{arxiv_id} is not in the published warehouse")
    title, abstract = rows[0]
    taxonomy = load_taxonomy(settings.taxonomy_file)
    embedder = default_embedder(settings)
    classifier = load_classifier(settings.models_dir, taxonomy, embedder, model_version)
    explanation = explain(classifier, embedder, title, abstract)
    prediction = explanation.prediction
    lines = [
        f"{arxiv_id}  {title}",
        f"model {classifier.version}: {prediction.relevance} (score {prediction.relevance_score:.2f})",
        "label scores (threshold; * predicted):",
    ]
    for label, score, threshold, predicted in explanation.label_rows:
        bar = f"{threshold:.2f}" if threshold is not None else "-"
        lines.append(f"  {'*' if predicted else ' '} {score:.2f}  ({bar})  {label}")
    if not explanation.neighbours:
        lines.append("this model keeps no labeled papers to compare with")
    else:
        lines.append("nearest labeled papers (cosine similarity):")
    for neighbour in explanation.neighbours:
        paper = neighbour.paper
        tags = ", ".join(paper.labels) or "-"
        lines.append(f"  {neighbour.similarity:.2f}  {paper.arxiv_id} [{paper.relevance}; {tags}] {paper.title[:80]}")
    return "\n".join(lines)
