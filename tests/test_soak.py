"""The soak, bounded: one day through a mirror failing 10 % of its requests, killed twice, rerun."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from avi_radar.soak import soak_round
from tests.conftest import PDF_FIXTURES, TEST_DAY

pytestmark = pytest.mark.slow  # five `avi ingest` processes


def test_a_faulty_killed_night_ends_as_an_undisturbed_one(day_corpus: Path, tmp_path: Path) -> None:
    from prefect.settings import PREFECT_API_URL

    day = date.fromisoformat(TEST_DAY)
    result = soak_round(
        [day_corpus],
        PDF_FIXTURES,
        (day, day),
        tmp_path,
        kills=2,
        fault_rate=0.1,
        seed=0,
        env={"PREFECT_API_URL": PREFECT_API_URL.value()},  # the session's server: no run starts its own
    )
    assert result.differences == []
    assert len(result.kills_after_lines) == 2 and result.papers > 400
    assert sum(result.faults.values()) > 0  # the mirror really failed requests
