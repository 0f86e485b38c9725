"""Python's forward pass of a 4-bit checkpoint PeftSharp wrote (peft merge --requantize): transformers + bitsandbytes
load the folder as it is (its config.json quantization_config), then the same outputs as `peft forward` are saved.

    py.sh tools/interop/python/bnb4_forward.py MODEL_DIR INPUTS_JSON OUT.safetensors [ADAPTER_DIR]

With ADAPTER_DIR (an adapter `peft train` trained on that 4-bit folder), PEFT's PeftModel.from_pretrained puts it on
the bitsandbytes layers (peft/tuners/lora/bnb.py, QLoRA as Python users run it) before the forward pass.

bitsandbytes must be importable in the reference stack (git archive of bitsandbytes/ at the commit named in
../shared/fixtures/MANIFEST.md, in /opt/refstack/site-packages); on CPU it runs its pure-PyTorch kernels.
"""
import json
import sys

import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM

torch._dynamo.config.disable = True  # bitsandbytes wraps two helpers in torch.compile; the chroot has no compiler
model_dir, inputs_path, out = sys.argv[1:4]
adapter = sys.argv[4] if len(sys.argv) > 4 else None
model = AutoModelForCausalLM.from_pretrained(model_dir, device_map="cpu", attn_implementation="eager", dtype=torch.float32, local_files_only=True)
import bitsandbytes as bnb  # noqa: E402

if adapter:
    from peft import PeftModel
    model = PeftModel.from_pretrained(model, adapter, is_trainable=False)
model.eval()

layers = [m for m in model.modules() if isinstance(m, bnb.nn.Linear4bit)]
inputs = json.load(open(inputs_path))
ids = torch.tensor(inputs["input_ids"])
mask = torch.tensor(inputs["attention_mask"])
with torch.no_grad():
    result = model(input_ids=ids, attention_mask=mask, output_hidden_states=True)
save_file({"logits": result.logits.float().contiguous(), "last_hidden_state": result.hidden_states[-1].float().contiguous()}, out)
print(f"{model_dir}{' + ' + adapter if adapter else ''}: {len(layers)} bitsandbytes Linear4bit layers ({layers[0].weight.quant_state.quant_type}, "
      f"double quant {layers[0].weight.quant_state.nested}); wrote {out}")
