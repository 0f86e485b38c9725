#!/usr/bin/env bash
# Rebuilds models/tiny-gpt2-en as it was made: seed 1, 26,000 steps of 4 x 128 tokens on the King James Bible, one
# libtorch thread (see README.md here). Run from the repository root. If it is interrupted, run it again with
# --resume added to the pretrain-tiny-gpt2 line: it continues from the last checkpoint to the same weights.
set -euo pipefail
run="${1:-/tmp/tiny-gpt2.run}"
out="${2:-models/tiny-gpt2-en}"
dotnet build src/PeftSharp.Cli -c Release
peft=src/PeftSharp.Cli/bin/Release/net10.0/peft
"$peft" pretrain-tiny-gpt2 --data data/kjv/kjv.jsonl --out "$out" --run "$run" --seed 1 --max-steps 26000
