using PeftSharp.Models.Gpt2;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// One view over the linear layers adapters wrap (TorchSharp's Linear, GPT-2's Conv1D whose weight is
/// stored [in, out]), so that tuners read and merge weights in the [out, in] orientation everywhere.
/// </summary>
public sealed class LinearBase
{
    private LinearBase(nn.Module<Tensor, Tensor> module, Parameter weight, Parameter? bias, bool fanInFanOut)
    {
        Module = module;
        Weight = weight;
        Bias = bias;
        FanInFanOut = fanInFanOut;
        InFeatures = fanInFanOut ? weight.shape[0] : weight.shape[1];
        OutFeatures = fanInFanOut ? weight.shape[1] : weight.shape[0];
    }

    public nn.Module<Tensor, Tensor> Module { get; }
    public Parameter Weight { get; }
    public Parameter? Bias { get; }
    /// <summary>True when the stored weight is [in, out] (GPT-2's Conv1D).</summary>
    public bool FanInFanOut { get; }
    public long InFeatures { get; }
    public long OutFeatures { get; }

    public static bool IsLinear(nn.Module m) => m is Linear or Conv1D;

    public static LinearBase? TryCreate(nn.Module m) => m switch
    {
        Linear l => new LinearBase(l, l.weight, l.bias, false),
        Conv1D c => new LinearBase(c, c.Weight, c.Bias, true),
        _ => null,
    };

    /// <summary>The weight as [out, in] (a view for Conv1D).</summary>
    public Tensor WeightOutIn() => FanInFanOut ? Weight.t() : Weight;

    /// <summary>Adds delta ([out, in]) to the stored weight in place, without autograd.</summary>
    public void AddToWeight(Tensor deltaOutIn)
    {
        using var _ = no_grad();
        Weight.add_(FanInFanOut ? deltaOutIn.t() : deltaOutIn);
    }

    /// <summary>Replaces the stored weight's values with w ([out, in]) in place.</summary>
    public void SetWeight(Tensor wOutIn)
    {
        using var _ = no_grad();
        Weight.copy_(FanInFanOut ? wOutIn.t() : wOutIn);
    }

    /// <summary>x W^T without the bias: the base layer's contribution DoRA rescales.</summary>
    public Tensor LinearNoBias(Tensor x) => nn.functional.linear(x, WeightOutIn());
}
