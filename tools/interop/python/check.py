"""Python's half of the comparison: Python PEFT's forward for each job, diffed with PeftSharp's saved output.

    py.sh check.py REFSTACK_DIR JOBS.json RESULTS.json

JOBS.json: a list of {"id", "model", "inputs", "ours" (PeftSharp's `peft forward` output), "ref" (where to write
Python's), "merge": bool, "adapters": [{"path", "name", "subfolder" (optional)}]}. The first adapter is loaded with
PeftModel.from_pretrained, the others with load_adapter, exactly as a Python user loads a multi-adapter folder
(`load_adapter(path, name, subfolder=name)`); the job's "active" names are activated (all of them by default). Outputs and the difference are those of the
reference stack's forward_peft.py and compare.py (max |ours - ref| / (1 + |ref|) over unpadded positions).
RESULTS.json: {id: {"abs": float, "rel": float, "error": str|null}}.
"""
import json
import os
import sys
import traceback

import torch

sys.path.insert(0, sys.argv.pop(1))  # the reference stack folder: its forward_peft.py and compare.py
from compare import compare  # noqa: E402
from forward_peft import load_base, load_inputs, outputs_of  # noqa: E402


def forward(job):
    from peft import PeftModel
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = load_base(job["model"])
    is_encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    adapters = job["adapters"]
    if adapters:
        first, *others = adapters
        kwargs = {"subfolder": first["subfolder"]} if first.get("subfolder") else {}
        model = PeftModel.from_pretrained(model, first["path"], adapter_name=first["name"], is_trainable=False, **kwargs)
        for a in others:
            kwargs = {"subfolder": a["subfolder"]} if a.get("subfolder") else {}
            model.load_adapter(a["path"], adapter_name=a["name"], is_trainable=False, **kwargs)
        active = job.get("active") or [a["name"] for a in adapters]
        if len(active) > 1 or active[0] != first["name"]:
            model.base_model.set_adapter(active if len(active) > 1 else active[0])
        if job["merge"]:
            model = model.merge_and_unload()
    model.eval()
    with torch.no_grad():
        out = model(**load_inputs(job["inputs"]), output_hidden_states=True, return_dict=True)
    named = outputs_of(out, is_encoder_decoder)
    save_file({k: v.detach().to(torch.float32).contiguous() for k, v in named.items()}, job["ref"])


def main(jobs_path, results_path):
    with open(jobs_path) as f:
        jobs = json.load(f)
    results = {}
    for job in jobs:
        try:
            forward(job)
            rows, ok = compare(job["ours"], job["ref"], job["inputs"])
            problems = [note for _, a, _, note in rows if a is None]
            results[job["id"]] = {
                "abs": max((a for _, a, _, _ in rows if a is not None), default=None),
                "rel": max((r for _, _, r, _ in rows if r is not None), default=None),
                "error": "; ".join(problems) if problems or not ok else None,
            }
        except Exception as e:  # one broken case must not hide the others
            traceback.print_exc()
            results[job["id"]] = {"abs": None, "rel": None, "error": f"{type(e).__name__}: {e}".splitlines()[0]}
    with open(results_path, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
