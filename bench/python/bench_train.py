"""Python PEFT's training step on the shapes of PeftSharp's `bench ... train`, one row per process, as JSON.

Run by `dotnet run -c Release --project bench/PeftSharp.Bench -- sidebyside` through the reference stack
(../shared/refstack/py.sh: transformers 4.56, peft 0.18.1, Debian's PyTorch 2.6); by hand:

    bash ../shared/refstack/py.sh bench/python/bench_train.py --shape 4x256 --method lora-c_attn --steps 5
    bash ../shared/refstack/py.sh bench/python/bench_train.py --shape 12x768 --method full --precision bf16

The protocol is that of bench/PeftSharp.Bench/Benchmarks/TrainingBenchmark.cs (and of refstack/bench_train.py, of
which this is the repository's copy with a --precision switch):
- GPT2LMHeadModel from a config, vocab 50257, n_positions 1024, LAYERSxWIDTH with head size 64, dropout 0,
  float32 weights, random init after torch.manual_seed(0), lm_head tied to wte, attention "sdpa";
- LoRA r=8, lora_alpha=16, lora_dropout=0 on c_attn or "all-linear", or full fine-tuning;
- torch.optim.AdamW lr 1e-4, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 except biases and LayerNorm parameters;
- one fixed [4, 256] batch of random ids as input and labels, transformers' causal-LM loss;
- a step = forward + backward + optimizer.step() + zero_grad(); 2 warm-up steps, N timed, median = sorted[N // 2];
- --precision bf16: PyTorch's own CPU mixed precision, torch.autocast("cpu", dtype=torch.bfloat16) around the
  forward and the loss (matmuls in bf16, weights and optimizer in float32): Python's best CPU setting where the CPU
  has native bf16 (avx512_bf16 / AMX);
- peak RSS from getrusage ru_maxrss (the C# bench reads VmHWM: the same number).
"""
import argparse
import contextlib
import json
import resource
import time

import torch


def build(layers, width, method):
    from transformers import AutoModelForCausalLM, GPT2Config

    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50257, n_embd=width, n_layer=layers, n_head=width // 64, n_positions=1024,
                        resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    if method != "full":
        from peft import LoraConfig, get_peft_model

        targets = ["c_attn"] if method == "lora-c_attn" else "all-linear"
        model = get_peft_model(model, LoraConfig(r=8, lora_alpha=16, lora_dropout=0.0, target_modules=targets,
                                                 task_type="CAUSAL_LM"))
    model.train()
    return model


def param_groups(model, lr, weight_decay):
    norms = {name for name, m in model.named_modules() if isinstance(m, torch.nn.LayerNorm)}
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        owner = name.rsplit(".", 1)[0] if "." in name else ""
        (no_decay if name.endswith("bias") or owner in norms else decay).append(p)
    return [g for g in ({"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0})
            if g["params"]]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="4x256", help="LAYERSxWIDTH, e.g. 4x256 or 12x768")
    p.add_argument("--method", default="lora-c_attn", choices=["lora-c_attn", "lora-all-linear", "full"])
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    a = p.parse_args()
    layers, width = (int(x) for x in a.shape.split("x"))
    model = build(layers, width, a.method)
    optimizer = torch.optim.AdamW(param_groups(model, 1e-4, 0.01), lr=1e-4, betas=(0.9, 0.999), eps=1e-8)
    ids = torch.randint(0, 50257, (4, 256), dtype=torch.long)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if a.precision == "bf16" else contextlib.nullcontext
    times, losses = [], []
    for i in range(a.steps + a.warmup):
        t0 = time.perf_counter()
        with autocast():
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        dt = time.perf_counter() - t0
        losses.append(loss.item())
        if i >= a.warmup:
            times.append(dt)
    print(json.dumps({
        "tool": "python", "shape": a.shape, "method": a.method, "precision": a.precision,
        "median_s": sorted(times)[len(times) // 2], "times_s": times,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024,
        "first_loss": losses[0], "last_loss": losses[-1], "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, **{n: __import__(n).__version__ for n in ("transformers", "peft")}},
    }))


if __name__ == "__main__":
    main()
