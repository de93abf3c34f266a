#!/usr/bin/env bash
# One prepared GPU check of srkit, about 9 minutes on one H100/H200; everything lands in $OUT.
#
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh            # on the GPU machine
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh --tiny     # toy sizes on the CPU: proves it runs
#
# Sections (each one's output goes to $OUT/report.md; a failing section is reported, not fatal):
#   1. the CUDA-only tests (CUDA vs CPU metrics and MATLAB bicubic)
#   2. training throughput of srresnet, srgan (MSE content: no VGG download) and drn at x4,
#      eager fp32 vs bf16 + channels_last + compile ("fast"), ratios measured in one run
#   3. inference throughput of SRResNet x4 and DRN-S x4 at 1080p output (LR 270x480), eager vs
#      fast, with achieved TFLOP/s (FlopCounterMode) and the fraction of the dense bf16 peak
#   4. batched GPU metrics vs BasicSR-style numpy on the CPU (benchmarks/metrics_vs_numpy.py)
#   5. fixed-budget training (TRAIN_MINUTES each, default 2.5) of SRResNet x4 and DRN-S x4 on
#      the bundled photos plus EXTRA_DATA, benched on Set5/Set14 against bicubic
#      (benchmarks/convergence.py); weights and results.json are copied to $OUT
#   6. data throughput (benchmarks/data_throughput.py): crops/s/core of a folder of DIV2K-size
#      PNGs, of 480x480 sub-images and of a srkit pack store, then SRResNet x4 (batch 16,
#      --workers 2, bf16 + channels_last) trained from the store, with the data-wait share
#
# Environment: OUT (required), EXTRA_DATA (default ../shared/datasets/BSD68 relative to the
# repository: extra HR training images, skipped if absent), TRAIN_MINUTES, PYTHON (python3).
# At most 8 files come back from a device run, so $OUT holds: report.md, results.json,
# srresnet_x4.safetensors, drn_s_x4.fp16.safetensors (a half-precision copy: the fp32 file is
# over 16 MiB).
set -uo pipefail

TINY=0
[ "${1:-}" = "--tiny" ] && TINY=1
: "${OUT:?set OUT to the folder that receives the results}"
EXTRA_DATA=${EXTRA_DATA:-../shared/datasets/BSD68}
TRAIN_MINUTES=${TRAIN_MINUTES:-2.5}
PYTHON=${PYTHON:-python3}
cd "$(dirname "$0")/.." || exit 1
mkdir -p "$OUT"
REPORT="$OUT/report.md"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if ! "$PYTHON" -c "import srkit" 2>/dev/null; then
    "$PYTHON" -m pip install -q -e . --no-deps --no-build-isolation >/dev/null 2>&1 \
        || echo "srkit is not importable and could not be installed" >&2
fi

if [ "$TINY" = 1 ]; then
    DEVICE=cpu
    TESTS=(tests/test_metrics.py tests/test_imresize.py -k cuda)
    TRAIN_TP=(--device cpu --recipes srresnet,srgan,drn --variants eager,bf16 --steps 1 --warmup 1
              --batch-size 2 --patch-size 32 --option content_loss=mse --option channels=8
              --option blocks=1 --option d_channels=8 --option n_feats=4 --option n_blocks=1)
    INFER_TP=(--device cpu --sizes 12x16 --models srresnet:4,drn-s:4 --variants eager,bf16
              --repeats 1 --warmup 1 --metric-images 2 --metric-size 32)
    METRICS=(--device cpu --batch 2 --size 32 --repeats 1)
    SRRESNET=(--iters 4 --every 2 -- --channels 8 --blocks 1 --batch-size 2 --patch-size 32
              --workers 0 --log-every 2)
    DRN=(--iters 4 --every 2 -- --n-feats 4 --n-blocks 1 --batch-size 2 --patch-size 32
         --workers 0 --log-every 2)
    MINUTES=()
    DATA_TP=(--quick --train-from store --device cpu)
else
    DEVICE=cuda
    TESTS=(tests/test_metrics.py tests/test_imresize.py -k cuda)
    TRAIN_TP=(--device cuda --recipes srresnet,srgan,drn --variants eager,fast --steps 10
              --warmup 3 --batch-size 16 --patch-size 96 --option content_loss=mse)
    INFER_TP=(--device cuda --sizes 270x480 --models srresnet:4,drn-s:4 --variants eager,fast
              --repeats 5 --warmup 2)
    METRICS=(--device cuda)
    # SRResNet-MSE at its paper size and lr; DRN-S with 192 crops (most of these photos are
    # smaller than the official 384) and batch 16; bf16 + channels_last, no compile warm-up
    SRRESNET=(--every 500 -- --iters 1000000 --workers 6 --amp bf16 --channels-last
              --log-every 100 --save-every 1000000)
    DRN=(--every 500 -- --iters 1000000 --batch-size 16 --patch-size 192 --workers 6 --amp bf16
         --channels-last --log-every 100 --save-every 1000000)
    MINUTES=(--minutes "$TRAIN_MINUTES")
    DATA_TP=(--images 24 --train-from store --device cuda --train-iters 300 --log-every 50
             --train-option=--amp=bf16 --train-option=--channels-last)
fi

# training data: the bundled photos plus EXTRA_DATA, as links in one folder
TRAIN_DATA="$WORK/train_hr"
mkdir -p "$TRAIN_DATA"
PHOTOS=$("$PYTHON" -c "from srkit.data import resolve_dataset; print(resolve_dataset('photos'))")
ln -s "$PHOTOS"/* "$TRAIN_DATA"/
if [ -d "$EXTRA_DATA" ]; then
    for f in "$EXTRA_DATA"/*; do ln -s "$(cd "$(dirname "$f")" && pwd)/$(basename "$f")" "$TRAIN_DATA/extra_$(basename "$f")"; done
    DATA_NOTE="bundled photos + $EXTRA_DATA"
else
    DATA_NOTE="bundled photos only ($EXTRA_DATA not found)"
fi

section() {  # section TITLE COMMAND...: run, time and record one part of the check
    local title=$1; shift
    local start=$SECONDS
    { echo; echo "## $title"; echo; echo '```'; echo "\$ $*"; } >> "$REPORT"
    "$@" >> "$REPORT" 2>&1
    local status=$?
    { echo '```'; echo; echo "exit status $status, $((SECONDS - start)) s"; } >> "$REPORT"
    echo "$title: exit $status ($((SECONDS - start)) s)"
}

{
    echo "# srkit GPU check$([ "$TINY" = 1 ] && echo ' (--tiny, CPU)')"
    echo
    echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    "$PYTHON" -c "import torch; print('torch', torch.__version__, '| device:', torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
    echo "training data: $DATA_NOTE ($(ls "$TRAIN_DATA" | wc -l) images)"
} > "$REPORT"

section "CUDA-only tests" "$PYTHON" -m pytest -q -rs "${TESTS[@]}"
section "Training throughput (x4)" "$PYTHON" benchmarks/train_throughput.py "${TRAIN_TP[@]}"
section "Inference throughput (x4, 1080p output)" "$PYTHON" benchmarks/inference_throughput.py "${INFER_TP[@]}"
section "Metrics: batched torch vs per-image numpy" "$PYTHON" benchmarks/metrics_vs_numpy.py "${METRICS[@]}"
section "Fixed-budget training: SRResNet x4" "$PYTHON" benchmarks/convergence.py srresnet \
    --device "$DEVICE" --out "$WORK/srresnet_x4" --json "$WORK/srresnet_x4.json" "${MINUTES[@]}" \
    "${SRRESNET[@]}" --data "$TRAIN_DATA"
section "Fixed-budget training: DRN-S x4" "$PYTHON" benchmarks/convergence.py drn \
    --device "$DEVICE" --out "$WORK/drn_s_x4" --json "$WORK/drn_s_x4.json" "${MINUTES[@]}" \
    "${DRN[@]}" --data "$TRAIN_DATA" --variant s
section "Data throughput and data wait (DIV2K-size store)" "$PYTHON" benchmarks/data_throughput.py \
    "${DATA_TP[@]}"

"$PYTHON" - "$WORK" "$OUT" <<'EOF'
"""Collect the two runs' results into results.json and their weights (DRN in fp16) into OUT."""
import json
import shutil
import sys
from pathlib import Path

from safetensors import safe_open
from safetensors.torch import save_file

work, out = Path(sys.argv[1]), Path(sys.argv[2])
results = {}
for name in ("srresnet_x4", "drn_s_x4"):
    found = work / f"{name}.json"
    results[name] = json.loads(found.read_text()) if found.is_file() else None
(out / "results.json").write_text(json.dumps(results, indent=2))
srresnet = work / "srresnet_x4" / "model.safetensors"
if srresnet.is_file():
    shutil.copy(srresnet, out / "srresnet_x4.safetensors")
drn = work / "drn_s_x4" / "model.safetensors"
if drn.is_file():
    with safe_open(str(drn), "pt") as f:
        metadata = f.metadata()
        tensors = {k: f.get_tensor(k).half() for k in f.keys()}
    save_file(tensors, str(out / "drn_s_x4.fp16.safetensors"), metadata=metadata)
EOF
echo "report: $REPORT"
