"""Python's half of the reverse direction: trains PEFT adapters for a few steps, dropout on, and saves them.

    py.sh train_peft.py REFSTACK_DIR JOBS.json

JOBS.json: a list of {"base": model folder, "out": adapter folder, "seed": int, "steps": int, "lr": float,
"adapters": [{"name": "default", "config": {peft config as a dict, with peft_type and task_type}}, ...]}.
Adapters after the first are added with add_adapter and trained in turn; save_pretrained then writes the first at
the folder's root and each other one in a subfolder named after it, as PEFT always does. The data are random token
ids (labels: the ids themselves for causal LMs, random classes for classifiers): the point is non-trivial adapter
weights made by Python's own training code, not a useful model.
"""
import json
import os
import sys

import torch

sys.path.insert(0, sys.argv.pop(1))  # the reference stack folder: its forward_peft.py and compare.py
from forward_peft import load_base  # noqa: E402


def train(job):
    from peft import get_peft_config, get_peft_model

    torch.manual_seed(job["seed"])
    model = load_base(job["base"])
    first, *others = job["adapters"]
    peft_model = get_peft_model(model, get_peft_config(first["config"]), adapter_name=first["name"])
    for extra in others:
        peft_model.add_adapter(extra["name"], get_peft_config(extra["config"]))
    vocab = model.config.vocab_size
    classes = getattr(model.config, "num_labels", 2)
    causal = first["config"]["task_type"] == "CAUSAL_LM"
    for spec in job["adapters"]:
        peft_model.set_adapter(spec["name"])
        params = [p for p in peft_model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=job["lr"])
        peft_model.train()  # dropout on, in the adapters and the base
        for _ in range(job["steps"]):
            ids = torch.randint(0, vocab, (4, 16))
            labels = ids.clone() if causal else torch.randint(0, classes, (4,))
            loss = peft_model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=labels).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    peft_model.set_adapter(first["name"])
    peft_model.save_pretrained(job["out"], safe_serialization=True)
    print(f"train_peft: {job['out']}: {', '.join(a['name'] for a in job['adapters'])}", file=sys.stderr)


def main(path):
    with open(path) as f:
        for job in json.load(f):
            train(job)


if __name__ == "__main__":
    main(sys.argv[1])
