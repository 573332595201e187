"""BERT's linear layers as packed oneDNN kernels with their neighbours fused in, for bf16 on CPUs.

What inductor's CPU freezing does to a compiled graph, done once by module surgery so that no input
shape has to be compiled: every weight is packed once into oneDNN's blocked layout, the erf GELU runs
inside the feed-forward expansion and each residual addition inside its output projection. Each fused
kernel writes its output once instead of allocating a second tensor of the same size for the next
step (for the GELU, one more activation-sized tensor per layer), whose fresh pages are faulted in one by one:
that, more than the packing, is where the gain comes from (docs/benchmarks.md).
"""

from __future__ import annotations

import torch


class PackedLinear(torch.nn.Module):
    """``torch.nn.Linear``, optionally followed by BERT's exact (erf) GELU, as one oneDNN kernel."""

    def __init__(self, linear: torch.nn.Linear, activation: str = "none") -> None:
        super().__init__()
        self.packed_weight = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), None)
        self.bias = linear.bias.detach()
        self.activation = activation
        self.algorithm = "none" if activation == "gelu" else ""  # "none" selects erf, not the tanh approximation

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The linear layer, with its activation (if any) fused into the same kernel."""
        return torch.ops.mkldnn._linear_pointwise(
            inputs, self.packed_weight, self.bias, self.activation, [], self.algorithm
        )

    def plus(self, inputs: torch.Tensor, residual: torch.Tensor) -> torch.Tensor:
        """``self(inputs) + residual`` in one kernel."""
        return torch.ops.mkldnn._linear_pointwise.binary(inputs, residual, self.packed_weight, self.bias, "add")


class ResidualLayerNorm(torch.nn.Module):
    """BERT's output block, ``LayerNorm(dense(hidden) + input)``, with the addition fused into ``dense``
    (its dropout is off at inference)."""

    def __init__(self, block: torch.nn.Module) -> None:
        super().__init__()
        self.dense = PackedLinear(block.dense)
        self.LayerNorm = block.LayerNorm

    def forward(self, hidden_states: torch.Tensor, input_tensor: torch.Tensor) -> torch.Tensor:
        """``LayerNorm(dense(hidden_states) + input_tensor)``, named as transformers calls it."""
        return self.LayerNorm(self.dense.plus(hidden_states, input_tensor))


def fuse_linear_layers(bert: torch.nn.Module) -> None:
    """Replace, in place, the linear layers of every layer of a bf16 BERT encoder (a transformers
    ``BertModel``) by packed kernels; for inference only, since the packed weights take no gradient."""
    with torch.inference_mode():
        for layer in bert.encoder.layer:
            attention = layer.attention.self
            attention.query = PackedLinear(attention.query)
            attention.key = PackedLinear(attention.key)
            attention.value = PackedLinear(attention.value)
            layer.intermediate.dense = PackedLinear(layer.intermediate.dense, activation="gelu")
            layer.intermediate.intermediate_act_fn = torch.nn.Identity()
            layer.attention.output = ResidualLayerNorm(layer.attention.output)
            layer.output = ResidualLayerNorm(layer.output)
