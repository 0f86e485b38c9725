#!/usr/bin/env bash
# 4-bit checkpoints PeftSharp writes, read by transformers + bitsandbytes: `peft merge --requantize` writes the llama
# fixture and tiny-gpt2-en in bitsandbytes' layout (NF4 with and without double quantization, FP4; with and without a
# merged LoRA), then `peft forward` and transformers' AutoModelForCausalLM (bitsandbytes' Linear4bit, pure-PyTorch
# kernels on CPU) run the same inputs and refstack's compare.py prints the differences.
# Needs the reference stack with bitsandbytes in it (tools/interop/README.md). Run from the repository root, as root.
set -euo pipefail
W="${1:-$(cd .. && pwd)/bnb4-roundtrip}"   # must lie under the workspace, the only folder the chroot sees
PY=../shared/refstack/py.sh
dotnet build src/PeftSharp.Cli -c Release >/dev/null
P=src/PeftSharp.Cli/bin/Release/net10.0/peft
L=tests/PeftSharp.Tests/TestData/fixtures/llama
G=models/tiny-gpt2-en
rm -rf "$W" && mkdir -p "$W"
cp "$L/inputs.json" "$W/llama-inputs.json"
echo '{"input_ids": [[464, 582, 531, 326, 339, 11, 290], [818, 262, 3329, 11, 262, 50256, 50256]], "attention_mask": [[1,1,1,1,1,1,1],[1,1,1,1,1,0,0]]}' > "$W/gpt2-inputs.json"
"$P" merge --model "$L" --quantize nf4 --double-quant --requantize --out "$W/llama-nf4dq"
"$P" merge --model "$L" --adapter "$L/adapters/lora" --quantize fp4 --requantize --out "$W/llama-fp4-lora"
"$P" merge --model "$G" --quantize nf4 --requantize --out "$W/gpt2-nf4"
"$P" train --model "$G" --data data/examples/instructions.jsonl --quantize nf4 --double-quant --target-modules all-linear \
    --max-steps 3 --eval-every 0 --output "$W/gpt2-run" >/dev/null
"$P" merge --model "$G" --adapter "$W/gpt2-run/adapter" --quantize nf4 --double-quant --requantize --out "$W/gpt2-nf4dq-lora"
# QLoRA from a 4-bit checkpoint: our trainer on the bitsandbytes folder, PEFT's bnb LoRA layers reading the adapter.
"$P" train --model "$W/gpt2-nf4" --data data/examples/instructions.jsonl --target-modules all-linear \
    --max-steps 3 --eval-every 0 --output "$W/gpt2-nf4-run" >/dev/null
"$P" forward --model "$W/gpt2-nf4" --adapter "$W/gpt2-nf4-run/adapter" --inputs "$W/gpt2-inputs.json" --out "$W/qlora.ours.safetensors" >/dev/null
bash "$PY" tools/interop/python/bnb4_forward.py "$W/gpt2-nf4" "$W/gpt2-inputs.json" "$W/qlora.python.safetensors" "$W/gpt2-nf4-run/adapter" 2>/dev/null
bash "$PY" ../shared/refstack/compare.py "$W/qlora.ours.safetensors" "$W/qlora.python.safetensors" --inputs "$W/gpt2-inputs.json"
for m in llama-nf4dq llama-fp4-lora gpt2-nf4 gpt2-nf4dq-lora; do
    inputs="$W/llama-inputs.json"; case $m in gpt2*) inputs="$W/gpt2-inputs.json";; esac
    "$P" forward --model "$W/$m" --inputs "$inputs" --out "$W/$m.ours.safetensors" >/dev/null
    bash "$PY" tools/interop/python/bnb4_forward.py "$W/$m" "$inputs" "$W/$m.python.safetensors" 2>/dev/null
    bash "$PY" ../shared/refstack/compare.py "$W/$m.ours.safetensors" "$W/$m.python.safetensors" --inputs "$inputs"
done
