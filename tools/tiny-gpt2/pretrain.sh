#!/usr/bin/env bash
# Rebuilds models/tiny-gpt2-en exactly as it was made: seed 1, a cosine schedule planned for 6,000 steps, stopped with
# a checkpoint after step 600, resumed with the schedule shortened to 3,500 steps (max_steps is one of the options a
# resume may change): the 2-core machine it was made on was shared with builds and test runs and ran at 2 to 3.5 s a
# step, too slow for the planned steps in the time there was (see README.md here). Run from the repository root.
set -euo pipefail
run="${1:-/tmp/tiny-gpt2.run}"
out="${2:-models/tiny-gpt2-en}"
dotnet build src/PeftSharp.Cli -c Release
peft=src/PeftSharp.Cli/bin/Release/net10.0/peft
"$peft" pretrain-tiny-gpt2 --data data/brown/brown.jsonl --out "$out" --run "$run" --seed 1 --max-steps 6000 --stop-after 600
"$peft" pretrain-tiny-gpt2 --data data/brown/brown.jsonl --out "$out" --run "$run" --seed 1 --max-steps 3500 --resume
