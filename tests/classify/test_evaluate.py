"""The evaluation figures, computed by hand on a small case."""

from __future__ import annotations

import json
from pathlib import Path

from classify.evaluate import (
    evaluation_result,
    fold_seed_result,
    label_reliability_table,
    leave_months_out,
    score_predictions,
    score_subsets,
)
from classify.figures import (
    Figures,
    LabelScore,
    RelevanceScores,
    ReliabilityBin,
    evaluation_text,
    months_text,
)
from classify.labels import JUDGED_SOURCE, LabeledPaper
from classify.model import Prediction
from tests.conftest import write_corpus

V2A = "generation.cross_modal.video_to_audio"
TALK = "generation.cross_modal.image_animation"
QA = "perception.content.qa"
DIFF = "technique.generative.diffusion"


def _paper(index: int, relevance: str, labels: tuple[str, ...]) -> LabeledPaper:
    return LabeledPaper(str(index), f"paper {index}", None, relevance, labels, "test")


def _prediction(relevance: str, labels: tuple[str, ...]) -> Prediction:
    return Prediction(relevance, 1.0, dict.fromkeys(labels, 0.9), 0.9)


def test_scores_follow_the_definitions() -> None:
    papers = [
        _paper(1, "av", (V2A, DIFF)),
        _paper(2, "av", (V2A,)),
        _paper(3, "av", (V2A, DIFF)),
        _paper(4, "av", (QA,)),
        _paper(5, "none", ()),
        _paper(6, "context", (DIFF,)),
    ]
    predictions = [
        _prediction("av", (V2A, DIFF)),
        _prediction("av", (TALK,)),
        _prediction("av", (V2A,)),
        _prediction("none", ()),
        _prediction("av", (QA,)),
        _prediction("context", (DIFF,)),
    ]
    result = score_predictions(papers, predictions)
    assert result.n == 6
    # av: 3 true positives, 1 false positive (paper 5), 1 false negative (paper 4)
    assert result.relevance == RelevanceScores(precision=0.75, recall=0.75, f1=0.75)
    # sections over gold-av papers; only generation.cross_modal has >= 3 gold positives (all 3 found, 0 extra)
    assert list(result.section.per_label) == ["generation.cross_modal"]
    assert result.section.macro_f1 == 1.0
    # subsections: video_to_audio gold 3, predicted correctly on 2 (papers 1 and 3) -> P 1, R 2/3
    assert result.subsection.macro_f1 == 0.8
    # techniques over all papers: diffusion gold 3, predicted on 1 and 6 -> P 1, R 2/3
    assert result.technique.macro_f1 == 0.8
    assert result.technique.per_label[DIFF] == LabelScore(precision=1.0, recall=0.6667, f1=0.8, support=3)
    assert Figures.from_json(json.loads(json.dumps(result.to_json()))) == result  # what is stored reads back


def _three_seeds() -> tuple[list[LabeledPaper], list[Prediction], list[Prediction], list[Prediction]]:
    """Three audio-visual papers and one unrelated, and three fold seeds' predictions of them: all right; paper
    3 missed (relevance recall 2/3); a false alarm on paper 4 (relevance precision 3/4)."""
    papers = [_paper(1, "av", (V2A,)), _paper(2, "av", (V2A,)), _paper(3, "av", (V2A,)), _paper(4, "none", ())]
    right = [_prediction("av", (V2A,))] * 3 + [_prediction("none", ())]
    missed = [*right[:2], _prediction("none", ()), right[3]]
    alarmed = [*right[:3], _prediction("av", (V2A,))]
    return papers, right, missed, alarmed


def test_the_fold_seeds_spread_is_each_figures_mean_lowest_and_highest_value() -> None:
    papers, right, missed, alarmed = _three_seeds()
    result = json.loads(json.dumps(fold_seed_result(papers, [right, missed, alarmed], [missed])))
    assert result["seeds"] == [0, 1, 2]
    recall = result["model"]["all"]["relevance_recall"]
    assert recall == {"mean": round((1 + 2 / 3 + 1) / 3, 4), "low": 0.6667, "high": 1.0, "per_seed": [1.0, 0.6667, 1.0]}
    assert result["model"]["all"]["relevance_precision"]["per_seed"] == [1.0, 1.0, 0.75]
    assert result["model"]["all"]["section"]["per_seed"] == [1.0, 0.8, 1.0]
    # no technique with three gold papers: nothing to average, in every seed
    assert result["model"]["all"]["technique"] == {"mean": None, "low": None, "high": None, "per_seed": [None] * 3}
    assert result["baseline"]["all"]["relevance_f1"]["per_seed"] == [0.8]


class _Answers:
    """A stand-in for a trained model: ``av`` (video-to-audio) for the texts it is told, ``none`` for the rest."""

    version = "fixed"

    def __init__(self, decided_av: set[str]) -> None:
        self.decided_av = decided_av

    def predict(self, texts: list[str]) -> list[Prediction]:
        return [_prediction("av", (V2A,)) if text in self.decided_av else _prediction("none", ()) for text in texts]


def _trainer(*decided_av: int):  # noqa: ANN202 - a stand-in for one fold seed's training
    return lambda papers, unseen: _Answers({f"paper {index}" for index in decided_av})


def _april(tmp_path: Path) -> tuple[list[LabeledPaper], Path]:
    """Four papers of April 2026 in a corpus file, the first three labeled audio-visual (paper 4: none)."""
    rows = [
        {"arxiv_id": str(index), "title": f"paper {index}", "announced": f"2026-04-0{index}", "categories": ["cs.CV"]}
        for index in range(1, 5)
    ]
    return [_paper(index, "av", (V2A,)) for index in (1, 2, 3)], write_corpus(tmp_path / "corpus.jsonl.gz", rows)


def test_a_months_fold_seeds_are_the_spread_of_one_model_per_seed(tmp_path: Path) -> None:
    labeled, corpus = _april(tmp_path)
    result = leave_months_out(["2026-04"], labeled, [corpus], ["cs.CV"], _trainer(1, 2, 3), None, [_trainer(1, 2, 4)])
    month = json.loads(json.dumps(result))["months"]["2026-04"]
    assert month["model"]["relevance"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0}  # seed 0's figures
    spread = month["fold_seeds"]
    assert spread["seeds"] == [0, 1]
    # the mean of the seeds' figures as reported (each rounded to four places)
    assert spread["model"]["relevance_precision"] == {
        "mean": 0.8334,
        "low": 0.6667,
        "high": 1.0,
        "per_seed": [1.0, 0.6667],
    }
    assert spread["model"]["relevance_recall"]["per_seed"] == [1.0, 0.6667]
    assert (
        "fold_seeds"
        not in leave_months_out(["2026-04"], labeled, [corpus], ["cs.CV"], _trainer(1))["months"]["2026-04"]
    )


def test_a_months_precision_is_bounded_by_its_unlabeled_false_alarms() -> None:
    from classify.evaluate import leave_month_out

    rows = [{"arxiv_id": str(index), "title": f"paper {index}", "categories": ["cs.CV"]} for index in range(1, 6)]
    labeled = [*(_paper(index, "av", (V2A,)) for index in (1, 2, 3)), _paper(4, "none", ())]  # paper 5: unlabeled
    figures = leave_month_out(labeled, rows, ["cs.CV"], _trainer(1, 4, 5))[0]
    assert figures.figures.relevance.precision == 0.3333  # papers 4 and 5 both count as false alarms
    assert (figures.called_av, figures.called_av_unlabeled) == (3, 1)  # papers 1, 4 and 5; paper 5
    assert figures.called_av_right == 1  # paper 1
    assert figures.precision_ceiling == 0.6667  # were paper 5 audio-visual: the true precision is 1/3 or 2/3
    assert figures.labeled_precision == 0.5  # papers 1 and 4
    assert figures.to_json()["precision_ceiling"] == 0.6667


def _column(table: str, row_start: str, heading: str) -> str:
    """The cell of the first row starting with ``row_start`` under the right-aligned column ``heading``."""
    header = next(line for line in table.splitlines() if line.startswith(("subset ", "month ")))
    row = next(line for line in table.splitlines() if line.startswith(row_start))
    end = header.index(heading) + len(heading)
    return row[end - len(heading) : end].strip()


def test_the_evaluation_table_shows_each_subset_its_baseline_and_the_seeds_spread() -> None:
    papers, right, missed, alarmed = _three_seeds()
    result = evaluation_result("a protocol", papers, right, missed)
    result["fold_seeds"] = fold_seed_result(papers, [right, missed, alarmed], [missed, missed, right])
    table = evaluation_text(result)
    lines = table.splitlines()
    assert lines[0] == "a protocol"
    assert lines[lines.index(next(line for line in lines if line.startswith("all "))) + 1].startswith("  baseline")
    assert _column(table, "all ", "papers") == "4"
    assert "1.000 / 1.000 / 1.000" in next(line for line in lines if line.startswith("all "))
    assert "1.000 / 0.667 / 0.800" in next(line for line in lines if line.startswith("  baseline"))
    assert _column(table, "all ", "section") == "1.000"
    assert _column(table, "  baseline", "section") == "0.800"
    assert _column(table, "all ", "technique") == "-"  # no technique with three gold papers
    # the spread: F1 1.0, 0.8 and 6/7 over the three seeds
    model_spread = lines[lines.index("model over fold seeds 0-2: mean (lowest-highest)") + 1]
    assert model_spread.split()[0] == "all"
    assert "relevance f1 0.886 (0.800-1.000)" in model_spread and "technique -" in model_spread
    assert "baseline over fold seeds 0-2: mean (lowest-highest)" in lines


def test_the_months_table_shows_the_figures_the_section_counts_and_the_seeds_spread(tmp_path: Path) -> None:
    labeled, corpus = _april(tmp_path)
    result = leave_months_out(["2026-04"], labeled, [corpus], ["cs.CV"], _trainer(1, 2, 4), _trainer(1), [_trainer(1)])
    table = months_text(result)
    assert table.splitlines()[0] == result["protocol"]
    assert [_column(table, "2026-04", heading) for heading in ("papers", "labeled", "trained on", "section")] == [
        "4",
        "3",
        "0",
        "0.800",  # papers 1 and 2 of the three video-to-audio ones (paper 4 is no gold audio-visual paper)
    ]
    assert "0.667 / 0.667 / 0.667" in next(line for line in table.splitlines() if line.startswith("2026-04"))
    assert "1.000 / 0.333 / 0.500" in next(line for line in table.splitlines() if line.startswith("  baseline"))
    assert _column(table, "  baseline", "section") == "0.500"  # paper 1 of the three
    # paper 4, called audio-visual, is unlabeled: a false alarm in the precision, which is 1.0 without it
    assert (
        "2026-04: 1 of the 3 papers called audio-visual are unlabeled: precision 0.667 if none of them is "
        "audio-visual, 1.000 if all are; 1.000 on the labeled papers alone" in table
    )
    # the report would count 3 video-to-audio papers (1, 2 and the false alarm 4) where 3 are labeled
    assert "2026-04: audio-visual papers per section, counted / labeled\n  generation.cross_modal 3/3" in table
    assert "2026-04 over fold seeds 0-1: mean (lowest-highest)\n  model" in table


def test_confident_subsets_leave_out_doubted_labels() -> None:
    papers = [
        LabeledPaper("1", "paper 1", "abstract", "av", (V2A,), "hub"),
        LabeledPaper("2", "paper 2", None, "av", (V2A,), "hub", flags=("weak_av_evidence_in_title_abstract",)),
        LabeledPaper("3", "paper 3", "abstract", "none", (), JUDGED_SOURCE, confidence="low"),
        LabeledPaper("4", "paper 4", "abstract", "av", (V2A,), JUDGED_SOURCE, flags=("multi_label",)),
    ]
    assert [paper.label_is_confident for paper in papers] == [True, False, False, True]
    predictions = [
        _prediction("av", (V2A,)),
        _prediction("none", ()),  # missed, but its list doubts it
        _prediction("av", (V2A,)),  # a false positive against a low-confidence judgement
        _prediction("av", (V2A,)),
    ]
    figures = score_subsets(papers, predictions)
    sizes = {name: subset.n for name, subset in figures.items()}
    assert sizes == {
        "all": 4,
        "abstract": 3,
        "curated": 2,
        "judged": 2,
        "all_confident": 2,
        "abstract_confident": 2,
        "curated_confident": 1,
        "judged_confident": 1,
    }
    assert figures["all"].relevance == RelevanceScores(precision=0.6667, recall=0.6667, f1=0.6667)
    assert figures["all_confident"].relevance == RelevanceScores(precision=1.0, recall=1.0, f1=1.0)


def test_label_reliability_bins_the_named_labels_and_errs_by_hand() -> None:
    papers = [_paper(1, "av", (V2A, DIFF)), _paper(2, "av", (QA,)), _paper(3, "none", ())]
    predictions = [
        # named: V2A at 0.85 (gold), DIFF at 0.95 (gold); scored but not named: QA at 0.05 (not gold)
        Prediction("av", 0.9, {V2A: 0.85, DIFF: 0.95}, 0.85, {V2A: 0.85, DIFF: 0.95, QA: 0.05}),
        # named: V2A at 0.82 (not gold), QA at 0.15 (gold, its best task label named below its threshold)
        Prediction("av", 0.7, {V2A: 0.82, QA: 0.15}, 0.82, {V2A: 0.82, DIFF: 0.3, QA: 0.15}),
        Prediction("none", 0.99, {}, 0.0, {V2A: 0.02, DIFF: 0.01, QA: 0.0}),
    ]
    table = label_reliability_table(papers, predictions)
    assert table.bins == [
        ReliabilityBin(scores="0.10-0.20", n=1, mean_score=0.15, accuracy=1.0),
        ReliabilityBin(scores="0.80-0.90", n=2, mean_score=0.835, accuracy=0.5),
        ReliabilityBin(scores="0.90-1.00", n=1, mean_score=0.95, accuracy=1.0),
    ]
    # (1 x 0.85 + 2 x 0.335 + 1 x 0.05) / 4
    assert table.expected_calibration_error == 0.3925
    # all nine scores: 0.00-0.10 holds 0.05, 0.02, 0.01, 0.0 (none gold): 4 x 0.02 more, 0.3 (not gold) alone
    assert table.expected_calibration_error_all_scores == round((0.85 + 2 * 0.335 + 0.05 + 0.08 + 0.3) / 9, 4)


def test_leave_month_out_never_trains_on_the_month_it_scores() -> None:
    from pathlib import Path

    from classify.evaluate import UNLABELED_SOURCE, leave_month_out
    from classify.labels import load_labeled_papers, paper_text
    from classify.taxonomy import load_taxonomy
    from classify.train import TrainingSetup
    from core.settings import DEFAULT_CATEGORIES
    from extract.corpus import rows_announced_in
    from tests.conftest import SHARED, require_shared

    require_shared()
    taxonomy = load_taxonomy(Path(__file__).resolve().parents[2] / "classify" / "taxonomy.yaml")
    corpus = sorted((SHARED / "corpus").glob("*.jsonl.gz"))
    label_files = [SHARED / "labels" / "train.jsonl", *sorted((SHARED / "labels" / "judged").glob("*.jsonl"))]
    labeled = load_labeled_papers(label_files, corpus, taxonomy)
    rows = rows_announced_in(corpus, "2026-04")
    month_ids = {row["arxiv_id"] for row in rows}
    trained_on: list[LabeledPaper] = []

    class NothingIsAudioVisual:
        version = "recorder"

        def predict(self, texts: list[str]) -> list[Prediction]:
            return [Prediction("none", 1.0, {}, 0.0) for _ in texts]

    unseen_texts: set[str] = set()

    def train(papers: list[LabeledPaper], unseen: frozenset[str]) -> NothingIsAudioVisual:
        trained_on.extend(papers)
        unseen_texts.update(unseen)
        return NothingIsAudioVisual()

    categories = DEFAULT_CATEGORIES.split(",")
    figures, scored, _ = leave_month_out(labeled, rows, categories, train)
    labeled_in_month = [paper for paper in labeled if paper.arxiv_id in month_ids]
    assert labeled_in_month and not month_ids & {paper.arxiv_id for paper in trained_on}
    assert len(trained_on) == len(labeled) - len(labeled_in_month)  # every other labeled paper is trained on
    # nor is any paper of the month learnt from as unlabeled text (the screen's background), whatever its category
    assert unseen_texts == {paper_text(row["title"], row["abstract"]) for row in rows}
    background = ("an unrelated paper", *sorted(unseen_texts)[:3])
    assert TrainingSetup(background=background).without(frozenset(unseen_texts)).background == background[:1]
    assert all(row["announced"].startswith("2026-04-") for row in rows) and len(scored) <= len(rows)
    harvested = {row["arxiv_id"] for row in rows if set(categories) & set(row["categories"])}
    assert {paper.arxiv_id for paper in scored} == harvested
    assert figures.labeled == sum(paper.source != UNLABELED_SOURCE for paper in scored) > 0
    gold_av = sum(paper.relevance == "av" for paper in scored)
    assert gold_av > 0 and figures.figures.relevance.recall == 0.0  # a model that finds nothing finds nothing
    assert sum(count.labeled for count in figures.sections.values()) >= gold_av
    assert all(count.predicted == 0 for count in figures.sections.values())
    assert figures.called_av == figures.called_av_unlabeled == 0  # nothing called audio-visual
    assert figures.precision_ceiling is None and figures.labeled_precision is None
