"""Checks our general-text loss against transformers on models/tiny-gpt2-en (run through ../shared/refstack/py.sh).

Input: a JSON file with "ids" (the token ids of the general texts, truncated, as PeftSharp tokenized them; the
refstack has no tokenizers) and "ours" (PeftSharp's value). The README's numbers came from a scratch program on
PeftSharp: texts = GeneralText.Load(null, 16); ids = tokenizer.Encode(text).Take(256) for each (the tokenizer of
models/tiny-gpt2-en); ours = new LanguageModelDrift(model, tokenizer, texts, 256).MeanLoss(). Prints the token-weighted mean next-token cross-entropy
(1) each text alone, unpadded; (2) PEFT's method-comparison protocol: batches of 4, left padding, each row's own last
len tokens; (3) the same with position ids derived from the attention mask.
"""
import json, sys
import torch
from transformers import GPT2LMHeadModel

spec = json.load(open(sys.argv[1]))
model = GPT2LMHeadModel.from_pretrained(sys.argv[2]).eval()
ids = spec["ids"]


def pooled(batch_size, positions_from_mask):
    losses = []
    with torch.inference_mode():
        for start in range(0, len(ids), batch_size):
            rows = ids[start:start + batch_size]
            width = max(len(r) for r in rows)
            input_ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
            mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
            kwargs = {}
            if positions_from_mask:
                kwargs["position_ids"] = (mask.cumsum(-1) - 1).clamp(min=0)
            logits = model(input_ids=input_ids, attention_mask=mask, **kwargs).logits
            for logit, target, m in zip(logits, input_ids, mask):
                n = int(m.sum())
                losses.extend(torch.nn.functional.cross_entropy(logit[-n:][:-1], target[-n:][1:], reduction="none").tolist())
    return sum(losses) / len(losses)


alone = pooled(1, False)
print(f"PeftSharp (right padding)            {spec['ours']:.10f}")
print(f"transformers, each text alone        {alone:.10f}  (diff {abs(alone - spec['ours']):.2e})")
print(f"PEFT protocol, left padding, batch 4 {pooled(4, False):.10f}")
print(f"left padding, positions from mask    {pooled(4, True):.10f}")
