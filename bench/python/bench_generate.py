"""transformers' greedy generation on the shapes of PeftSharp's `bench ... generate-one`, one row per process, as JSON.

Run by `dotnet run -c Release --project bench/PeftSharp.Bench -- sidebyside --generate` through the reference stack
(../shared/refstack/py.sh: transformers 4.56 on Debian's PyTorch 2.6); by hand:

    bash ../shared/refstack/py.sh bench/python/bench_generate.py --shape 12x768 --batch 1 --new 128

The protocol is that of bench/PeftSharp.Bench/Benchmarks/GenerationBenchmark.cs (One):
- GPT2LMHeadModel from a config, vocab 50257, n_positions 1024, LAYERSxWIDTH with head size 64, random init after
  torch.manual_seed(0), lm_head tied to wte, attention "sdpa", eval mode; --precision bf16 holds it in bfloat16;
- a [BATCH, 32] prompt of random ids (torch.manual_seed(1)), no padding;
- model.generate greedy (do_sample False), KV cache (transformers' default DynamicCache), exactly NEW new tokens
  (min_new_tokens = max_new_tokens, no end-of-sequence token);
- 1 warm-up call, N timed calls; median = sorted[N // 2]; tokens/s = BATCH * NEW / median;
- peak RSS from getrusage ru_maxrss.
"""
import argparse
import json
import resource
import time

import torch


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", default="12x768", help="LAYERSxWIDTH, e.g. 4x256 or 12x768")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--new", type=int, default=128)
    p.add_argument("--prompt", type=int, default=32)
    p.add_argument("--precision", default="fp32", choices=["fp32", "bf16"])
    p.add_argument("--runs", type=int, default=3)
    a = p.parse_args()
    from transformers import AutoModelForCausalLM, GPT2Config

    layers, width = (int(x) for x in a.shape.split("x"))
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50257, n_embd=width, n_layer=layers, n_head=width // 64, n_positions=1024)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa", dtype=torch.float32)
    if a.precision == "bf16":
        model = model.to(torch.bfloat16)
    model.eval()
    torch.manual_seed(1)
    ids = torch.randint(0, 50257, (a.batch, a.prompt), dtype=torch.long)
    mask = torch.ones_like(ids)
    times, out = [], None
    with torch.inference_mode():
        for i in range(a.runs + 1):
            t0 = time.perf_counter()
            out = model.generate(input_ids=ids, attention_mask=mask, do_sample=False, max_new_tokens=a.new,
                                 min_new_tokens=a.new, use_cache=True, pad_token_id=0, eos_token_id=None)
            dt = time.perf_counter() - t0
            if i >= 1:
                times.append(dt)
    median = sorted(times)[len(times) // 2]
    print(json.dumps({
        "tool": "python", "shape": a.shape, "batch": a.batch, "new_tokens": a.new, "precision": a.precision,
        "median_s": median, "times_s": times, "tokens_per_s": a.batch * a.new / median,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024,
        "first_tokens": out[0, a.prompt:a.prompt + 8].tolist(), "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "transformers": __import__("transformers").__version__},
    }))


if __name__ == "__main__":
    main()
