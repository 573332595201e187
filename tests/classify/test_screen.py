"""The screen's threshold: the highest that stays within its loss budget on out-of-fold probabilities."""

from __future__ import annotations

import numpy as np

from classify.screen import RelevanceScreen, screen_threshold_for


def _chosen(max_loss: float, out_of_fold: np.ndarray) -> RelevanceScreen:
    screen = RelevanceScreen(max_loss)
    screen.set_threshold(*screen_threshold_for(out_of_fold, max_loss))
    return screen


def test_the_highest_threshold_within_the_loss_budget_is_chosen() -> None:
    # 1,000 relevant papers: 3 below 0.01, 9 below 0.02, 14 below 0.05
    out_of_fold = np.r_[np.full(3, 0.008), np.full(6, 0.015), np.full(5, 0.03), np.full(986, 0.9)]
    screen = _chosen(0.005, out_of_fold)
    assert screen.threshold == 0.01 and screen.loss == 0.003
    assert _chosen(0.01, out_of_fold).threshold == 0.02
    assert _chosen(0.0, out_of_fold).threshold == 0.005  # nothing lost at all


def test_without_a_threshold_within_budget_nothing_is_screened() -> None:
    screen = _chosen(0.005, np.r_[np.full(10, 0.0005), np.full(90, 0.9)])
    assert screen.threshold == 0.0
    assert screen.screening(["any text", "another"]).kept.all()
