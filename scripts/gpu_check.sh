#!/usr/bin/env bash
# The GPU check: on a CUDA machine, runs the `gpu`-marked tests, the rasterizer and training-step
# benchmarks at 512x512, `pgs eval`'s FPS and a short real-clip training, and writes one JSON of
# figures (.benchmarks/gpu_check/gpu_check.json; see scripts/gpu_check.py for the steps).
# Without CUDA it exits 2 with one line. Arguments are passed to gpu_check.py (--out, --steps, --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-.venv/bin/python}"
if [ ! -x "$PYTHON" ]; then
    echo "gpu_check: $PYTHON not found: run make install first" >&2
    exit 2
fi
if ! "$PYTHON" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
    echo "gpu_check: no CUDA device (torch.cuda.is_available() is False): this check needs an NVIDIA GPU" >&2
    exit 2
fi
exec "$PYTHON" scripts/gpu_check.py "$@"
