"""The fused bf16 encoder: every linear layer packed, and the vectors of the same bf16 weights unfused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from classify.embed import SentenceEmbedder
from classify.fused_bert import PackedLinear

TEXTS = [
    "Audio-visual speech separation with lip movements",
    "A study of lip reading. " * 40,  # cut at the token budget
    "Diffusion models for video-to-audio generation. We generate synchronized sound effects for silent clips.",
    "",
]


@pytest.mark.skipif(not torch.ops.mkldnn._is_mkldnn_bf16_supported(), reason="this CPU's oneDNN has no bf16")
def test_fused_layers_replace_every_linear_and_keep_the_bf16_vectors() -> None:
    fused = SentenceEmbedder(device="cpu")  # bf16 weights, fused on such a CPU
    layers = fused.model[0].auto_model.encoder
    assert not any(isinstance(module, torch.nn.Linear) for module in layers.modules())
    assert sum(isinstance(module, PackedLinear) for module in layers.modules()) == 6 * 6  # 6 linears x 6 layers

    unfused = SentenceEmbedder(device="cpu", bf16_on_cpu=False)
    unfused.model.to(torch.bfloat16)  # the same bf16 weights through torch.nn.Linear
    ours, reference = fused.encode(TEXTS), unfused.encode(TEXTS)
    cosines = np.sum(ours * reference, axis=1)
    assert cosines.min() > 0.9995 and cosines.mean() > 0.9999  # bf16 rounds the two kernels' sums differently
