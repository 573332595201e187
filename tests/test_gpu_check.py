"""The GPU check's script runs its every step on a CPU too, so a lent GPU is never spent on a broken script."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from avi_radar.gpu_check import main


@pytest.mark.slow  # trains the default model
def test_the_check_trains_the_default_model_and_classifies_on_a_cpu(small_shared: Path, tmp_path: Path) -> None:
    assert main(["--device", "cpu", "--limit", "48", "--out", str(tmp_path / "out")]) == 0
    figures = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert figures["device"] == "cpu" and figures["texts"] == 48 and figures["embeddings_per_s"] > 0
    assert figures["mean_cosine_to_fp32"] > 0.999  # the configured precision against the same texts in fp32
    assert figures["labeled_papers"] > 100 and figures["train_s"] > 0
    assert figures["cross_validated_relevance_f1"] > 0.6  # the model the check trains learned something


def test_the_check_says_plainly_that_there_is_no_gpu(capsys: pytest.CaptureFixture) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    assert main([]) == 1
    assert "no CUDA device here" in capsys.readouterr().err
