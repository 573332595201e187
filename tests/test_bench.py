"""`avi bench`: every stage against its raw component, and the whole import in a child process."""

from __future__ import annotations

from pathlib import Path

import pytest

from avi_radar.cli import main
from tests.conftest import summary_of, write_corpus


@pytest.mark.slow  # runs every benchmark stage
def test_bench_json_has_a_key_per_stage(day_rows: list[dict], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    corpus = tmp_path / "corpus.jsonl.gz"
    write_corpus(corpus, day_rows[:64])
    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nHand-written text stays.\n")
    stages = "embedding,classification,load,import"
    args = ["bench", "--stages", stages, "--corpus", str(corpus), "--texts", "32", "--papers", "64"]
    assert main([*args, "--json", "--write-docs", str(page)]) == 0
    result = summary_of(capsys.readouterr().out)
    assert set(result) == {"embedding", "classification", "load", "import"}
    assert result["classification"]["raw_per_s"] == result["embedding"]["raw_per_s"]  # one raw run, both compared
    for stage in ("embedding", "classification", "load"):
        figures = result[stage]
        assert figures["raw_per_s"] > 0 and figures["avi_per_s"] > 0
        assert figures["ratio"] == pytest.approx(figures["avi_per_s"] / figures["raw_per_s"], abs=0.006)  # rounded
    assert result["embedding"]["items"] == 32 and result["load"]["items"] == 64
    assert result["classification"]["model"].startswith("zeroshot-")  # no model trained in this home: it says so
    assert result["import"]["wall_s"] > 0 and 100 < result["import"]["peak_rss_mb"] < 8000
    written = page.read_text()
    assert written.startswith("# Benchmarks\n\nHand-written text stays.\n")
    assert "| embedding | texts | 32 |" in written and "| classification (zeroshot-" in written
    assert "Whole import of corpus.jsonl.gz (model zero-shot" in written
    assert main(["bench", "--stages", "speed"]) == 2
