#!/usr/bin/env bash
# Combined adapters and mixed batches, checked in Python PEFT 0.18.1 (../shared/refstack): `peft combine` writes
# combinations of each fixture model's multi_lora/lora_x and lora_y with every type, then `peft forward --adapter`
# and PEFT (forward_peft.py) run them on the fixture's inputs; and `peft forward --row-adapters` is compared with
# PEFT's `adapter_names=[...]` forward. compare.py prints the differences. Run from the repository root, as root.
set -euo pipefail
W="${1:-$(cd .. && pwd)/combine-roundtrip}"   # must lie under the workspace, the only folder the chroot sees
PY=../shared/refstack/py.sh
dotnet build src/PeftSharp.Cli -c Release >/dev/null
P=src/PeftSharp.Cli/bin/Release/net10.0/peft
rm -rf "$W" && mkdir -p "$W"
types=("cat" "linear" "svd" "ties --density 0.5" "dare_linear --density 0.6 --seed 3" "dare_ties --density 0.5 --seed 1"
       "magnitude_prune --density 0.4" "ties_svd --density 0.4 --svd-rank 5" "dare_linear_svd --density 0.7 --svd-rank 3"
       "dare_ties_svd --density 0.5 --majority-sign-method frequency" "magnitude_prune_svd --density 0.4 --svd-clamp 0.95")
for model in gpt2 llama bert t5; do
    F=tests/PeftSharp.Tests/TestData/fixtures/$model
    M=$F/adapters/multi_lora
    for t in "${types[@]}"; do
        name="$model-${t%% *}"
        # shellcheck disable=SC2086
        "$P" combine --model "$F" --adapter x="$M/lora_x" --adapter y="$M/lora_y" --weights=0.6,-0.5 --combination $t --out "$W/$name" >/dev/null
        "$P" forward --model "$F" --adapter "$W/$name" --inputs "$F/inputs.json" --out "$W/$name.ours.safetensors" 2>/dev/null
        bash "$PY" ../shared/refstack/forward_peft.py --model "$F" --adapter "$W/$name" --inputs "$F/inputs.json" --out "$W/$name.python.safetensors" 2>/dev/null
        echo "== $name ($t)"
        bash "$PY" ../shared/refstack/compare.py "$W/$name.ours.safetensors" "$W/$name.python.safetensors" --inputs "$F/inputs.json"
    done
    "$P" forward --model "$F" --adapter x="$M/lora_x" --adapter y="$M/lora_y" --row-adapters y,__base__ --inputs "$F/inputs.json" --out "$W/$model-rows.ours.safetensors" 2>/dev/null
    bash "$PY" tools/interop/python/rows_forward.py "$F" "$F/inputs.json" "$W/$model-rows.python.safetensors" x="$M/lora_x" y="$M/lora_y" --rows y,__base__ 2>/dev/null
    echo "== $model mixed batch: rows y, __base__"
    bash "$PY" ../shared/refstack/compare.py "$W/$model-rows.ours.safetensors" "$W/$model-rows.python.safetensors" --inputs "$F/inputs.json"
done
