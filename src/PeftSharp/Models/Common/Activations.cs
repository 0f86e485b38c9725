using static TorchSharp.torch;

namespace PeftSharp.Models.Common;

/// <summary>transformers' ACT2FN names mapped to libtorch kernels.</summary>
public static class Activations
{
    public static Func<Tensor, Tensor> Get(string name, string source) => name switch
    {
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => x => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        "gelu" => x => nn.functional.gelu(x),
        "relu" => x => nn.functional.relu(x),
        "silu" or "swish" => x => nn.functional.silu(x),
        "quick_gelu" => x => x.mul(nn.functional.sigmoid(x.mul(1.702))),
        "tanh" => x => x.tanh(),
        _ => throw new PeftException($"{source}: activation function \"{name}\" is not supported (supported: gelu, gelu_new, gelu_pytorch_tanh, gelu_fast, relu, silu, swish, quick_gelu, tanh)"),
    };
}
