"""PEFT's mixed-batch forward: each row through its own adapter, `model(**inputs, adapter_names=[...])`.

    py.sh tools/interop/python/rows_forward.py MODEL INPUTS OUT NAME=FOLDER [NAME=FOLDER ...] --rows a,b,__base__

The twin of `peft forward --adapter NAME=FOLDER ... --row-adapters a,b,__base__`: the adapters are loaded under the
given names with PEFT 0.18.1 (the first with PeftModel.from_pretrained, the others with load_adapter), the base as
refstack's forward_peft.py loads it, and the outputs written under the same names.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "..", "..", "shared", "refstack"))
from forward_peft import load_base, load_inputs, outputs_of  # noqa: E402


def main():
    args = sys.argv[1:]
    rows = args[args.index("--rows") + 1].split(",")
    model_dir, inputs_path, out, *named = [a for i, a in enumerate(args) if a != "--rows" and (i == 0 or args[i - 1] != "--rows")]
    from peft import PeftModel
    from safetensors.torch import save_file

    torch.manual_seed(0)
    model = load_base(model_dir)
    encoder_decoder = bool(getattr(model.config, "is_encoder_decoder", False))
    pairs = [n.split("=", 1) for n in named]
    model = PeftModel.from_pretrained(model, pairs[0][1], adapter_name=pairs[0][0], is_trainable=False)
    for name, folder in pairs[1:]:
        model.load_adapter(folder, adapter_name=name, is_trainable=False)
    model.eval()
    inputs = load_inputs(inputs_path)
    with torch.no_grad():
        result = model(**inputs, adapter_names=rows, output_hidden_states=True, return_dict=True)
    tensors = {k: v.detach().to(torch.float32).contiguous().cpu() for k, v in outputs_of(result, encoder_decoder).items()}
    save_file(tensors, out)
    print(f"rows_forward: {rows} -> {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
