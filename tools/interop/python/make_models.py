"""Makes the interop check's small causal LMs with transformers itself (random weights, fixed seed, safetensors).

    py.sh make_models.py OUT_DIR

Writes OUT_DIR/gpt2 (GPT2LMHeadModel), OUT_DIR/llama (LlamaForCausalLM: grouped-query attention, untied head) and
OUT_DIR/llama-mqa (multi-query: one key/value head),
both with GPT-2's 50,257-token vocabulary so that the driver can add GPT-2's real byte-level BPE files beside them
(PeftSharp tokenizes the training text; Python only ever sees token ids). Folders made by transformers'
save_pretrained, so loading them is itself part of the check.
"""
import os
import sys

import torch
import transformers


def save(model, folder):
    model.save_pretrained(folder, safe_serialization=True)
    print(f"make_models: {folder}: {type(model).__name__}, {sum(p.numel() for p in model.parameters()):,} parameters",
          file=sys.stderr)


def main(out):
    torch.manual_seed(0)
    gpt2 = transformers.GPT2Config(vocab_size=50257, n_positions=128, n_embd=64, n_layer=2, n_head=4,
                                   bos_token_id=50256, eos_token_id=50256, resid_pdrop=0.0, embd_pdrop=0.0,
                                   attn_pdrop=0.0)
    save(transformers.GPT2LMHeadModel(gpt2), os.path.join(out, "gpt2"))
    torch.manual_seed(1)
    llama = transformers.LlamaConfig(vocab_size=50257, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                                     bos_token_id=50256, eos_token_id=50256, tie_word_embeddings=False,
                                     rms_norm_eps=1e-6)
    save(transformers.LlamaForCausalLM(llama), os.path.join(out, "llama"))
    torch.manual_seed(2)
    mqa = transformers.LlamaConfig(vocab_size=50257, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=128,
                                   bos_token_id=50256, eos_token_id=50256, tie_word_embeddings=False,
                                   rms_norm_eps=1e-6)
    save(transformers.LlamaForCausalLM(mqa), os.path.join(out, "llama-mqa"))


if __name__ == "__main__":
    main(sys.argv[-1])
