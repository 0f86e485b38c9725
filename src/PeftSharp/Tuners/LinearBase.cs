using PeftSharp.Models.Gpt2;
using PeftSharp.Models.Quantization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// One view over the linear layers adapters wrap (TorchSharp's Linear, GPT-2's Conv1D whose weight is
/// stored [in, out], and the frozen 4-bit <see cref="Linear4bit"/> of a quantized base), so that tuners read and merge
/// weights in the [out, in] orientation everywhere. A 4-bit layer has no weight parameter: reading it gives the
/// dequantized weight, and writing it (merging, PiSSA's residual) is refused with a message saying why.
/// </summary>
public sealed class LinearBase
{
    private readonly Parameter? _weight;
    private readonly Linear4bit? _quantized;

    private LinearBase(nn.Module<Tensor, Tensor> module, Parameter weight, Parameter? bias, bool fanInFanOut)
    {
        Module = module;
        _weight = weight;
        Bias = bias;
        FanInFanOut = fanInFanOut;
        InFeatures = fanInFanOut ? weight.shape[0] : weight.shape[1];
        OutFeatures = fanInFanOut ? weight.shape[1] : weight.shape[0];
        DType = weight.dtype;
        Device = weight.device;
    }

    private LinearBase(Linear4bit layer)
    {
        Module = layer;
        _quantized = layer;
        Bias = layer.Bias;
        InFeatures = layer.InFeatures;
        OutFeatures = layer.OutFeatures;
        DType = layer.OriginalDType;
        Device = layer.Device;
    }

    public nn.Module<Tensor, Tensor> Module { get; }

    /// <summary>The float weight parameter; a 4-bit layer has none (see <see cref="IsQuantized"/>).</summary>
    public Parameter Weight => _weight ?? throw Quantized("its weight parameter is needed");
    public Parameter? Bias { get; }
    /// <summary>True for a 4-bit base layer: its weight is read dequantized and cannot be written.</summary>
    public bool IsQuantized => _quantized != null;
    /// <summary>The weight's dtype (a 4-bit layer's is the dtype it was quantized from), in which adapters are made.</summary>
    public ScalarType DType { get; }
    public Device Device { get; }
    /// <summary>True when the stored weight is [in, out] (GPT-2's Conv1D).</summary>
    public bool FanInFanOut { get; }
    public long InFeatures { get; }
    public long OutFeatures { get; }

    public static bool IsLinear(nn.Module m) => m is Linear or Conv1D or Linear4bit;

    public static LinearBase? TryCreate(nn.Module m) => m switch
    {
        Linear l => new LinearBase(l, l.weight, l.bias, false),
        Conv1D c => new LinearBase(c, c.Weight, c.Bias, true),
        Linear4bit q => new LinearBase(q),
        _ => null,
    };

    /// <summary>The weight as [out, in] (a view for Conv1D; for a 4-bit layer a dequantized float32 copy, without autograd).</summary>
    public Tensor WeightOutIn() => _quantized?.DequantizedWeight() ?? (FanInFanOut ? Weight.t() : Weight);

    /// <summary>Adds delta ([out, in]) to the stored weight in place, without autograd.</summary>
    public void AddToWeight(Tensor deltaOutIn)
    {
        var weight = _weight ?? throw Quantized("merging writes the weight in place");
        using var _ = no_grad();
        weight.add_(FanInFanOut ? deltaOutIn.t() : deltaOutIn);
    }

    /// <summary>Replaces the stored weight's values with w ([out, in]) in place.</summary>
    public void SetWeight(Tensor wOutIn)
    {
        var weight = _weight ?? throw Quantized("this initialisation rewrites the base weight");
        using var _ = no_grad();
        weight.copy_(FanInFanOut ? wOutIn.t() : wOutIn);
    }

    /// <summary>x W^T without the bias: the base layer's contribution DoRA rescales.</summary>
    public Tensor LinearNoBias(Tensor x) => _quantized?.ForwardNoBias(x) ?? nn.functional.linear(x, WeightOutIn());

    private static PeftException Quantized(string why) =>
        new($"the base layer is 4-bit ({nameof(Linear4bit)}) and {why}; a 4-bit weight is not changed in place: merge onto the float model (peft merge without --quantize)");
}
