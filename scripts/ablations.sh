#!/usr/bin/env bash
# The ablation runs of docs/training.md: each recipe change on a shortened phase 2 (2 epochs), all started
# from one common phase-1 checkpoint (--init-from), so the rows differ only in what they name.
# Usage: scripts/ablations.sh DATA WEIGHTS BASE_RUN OUT_ROOT   (e.g. ../shared/data/kermany224 <h5> runs/v2 runs/ablation)
set -euo pipefail
cd "$(dirname "$0")/.."
data=$1 weights=$2 base=$3 root=$4
common=(--data "$data" --base-weights "$weights" --init-from "$base" --epochs-finetune 2 --model-version 0.0.1)
old=(--augment basic --optimizer adam --schedule plateau --finetune-lr 1e-5 --fine-tune-at 100 --label-smoothing 0 --swa-epochs 0 --calibrate clean)
new=(--augment xray --fine-tune-at 50 --optimizer adamw --schedule cosine --finetune-lr 1e-4)
run() {  # name, options...
    local name=$1; shift
    if [ -f "$root/$name/model_card.json" ]; then echo "$name: done"; return; fi
    local resume=(); [ -d "$root/$name/checkpoints" ] && resume=(--resume)
    .venv/bin/python -m model_training train "${common[@]}" --out "$root/$name" "$@" "${resume[@]}" > "$root/$name.log" 2>&1
}
mkdir -p "$root"
run r0_phase2_as_1.0.0 "${old[@]}"
run r1_xray_augment "${old[@]}" --augment xray
run r2_deeper_adamw_cosine "${old[@]}" "${new[@]}"
run r3_smoothing_swa "${old[@]}" "${new[@]}" --label-smoothing 0.05 --swa-epochs 2
run r4_input_clahe "${old[@]}" "${new[@]}" --label-smoothing 0.05 --swa-epochs 2 --input-clahe
run r5_bn_updated "${old[@]}" "${new[@]}" --label-smoothing 0.05 --swa-epochs 2 --train-bn
