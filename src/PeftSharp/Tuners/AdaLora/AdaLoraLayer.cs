using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.AdaLora;

/// <summary>
/// AdaLoRA's SVD-shaped update: delta W = B (A * E) * alpha / (ranknum + 1e-5), with E the singular values the rank
/// allocator keeps or zeroes. ranknum is the rank the layer was created with (init_r), as in PEFT, also after the
/// matrices were cut to the ranks a finished adapter kept.
/// </summary>
public sealed class AdaLoraLayer : DeltaWeightLayer
{
    private readonly AdapterParameterDict lora_A = new();
    private readonly AdapterParameterDict lora_B = new();
    private readonly AdapterParameterDict lora_E = new();
    private readonly AdapterDict<nn.Module<Tensor, Tensor>> lora_dropout = new();
    private readonly Dictionary<string, (double Scaling, double RankNum)> _settings = new(StringComparer.Ordinal);

    public AdaLoraLayer(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(AdaLoraLayer), "AdaLoRA", baseLayer, allowConv1D: true) { }

    public void AddAdapter(string adapter, int rank, AdaLoraConfig config)
    {
        var (dtype, device) = (Base.DType, Base.Device);
        var a = new Parameter(empty(rank, Base.InFeatures, dtype: dtype, device: device));
        var b = new Parameter(empty(Base.OutFeatures, rank, dtype: dtype, device: device));
        var e = new Parameter(empty(rank, 1, dtype: dtype, device: device));
        using (no_grad())
        {
            nn.init.normal_(a, 0, 0.02);
            nn.init.normal_(b, 0, 0.02);
            if (config.InitLoraWeights) nn.init.zeros_(e); else nn.init.normal_(e, 0, 1);
        }
        lora_A.Add(adapter, a);
        lora_B.Add(adapter, b);
        lora_E.Add(adapter, e);
        lora_dropout.Add(adapter, config.LoraDropout > 0 ? nn.Dropout(config.LoraDropout) : nn.Identity());
        _settings[adapter] = (config.LoraAlpha > 0 ? config.LoraAlpha : config.InitR, config.InitR);
        Added(adapter);
    }

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"lora_A.{adapter}", lora_A[adapter]);
        yield return ($"lora_B.{adapter}", lora_B[adapter]);
        yield return ($"lora_E.{adapter}", lora_E[adapter]);
    }

    /// <summary>This layer's A, B, E of an adapter, for AdaLoRA's rank allocator.</summary>
    public AdaLoraTriplets Triplets(string path, string adapter) => new(path, lora_A[adapter], lora_B[adapter], lora_E[adapter]);

    public override Tensor DeltaWeight(string adapter)
    {
        var s = _settings[adapter];
        return lora_B[adapter].matmul(lora_A[adapter].mul(lora_E[adapter])).mul(s.Scaling / (s.RankNum + 1e-5));
    }

    /// <summary>(dropout(x) (A * E)^T B^T) * alpha / (ranknum + 1e-5), without forming delta W.</summary>
    protected override Tensor Contribution(string adapter, Tensor x)
    {
        var s = _settings[adapter];
        var h = nn.functional.linear(lora_dropout[adapter].forward(x), lora_A[adapter].mul(lora_E[adapter]));
        return nn.functional.linear(h, lora_B[adapter]).mul(s.Scaling / (s.RankNum + 1e-5));
    }

    protected override void RemoveAdapter(string adapter)
    {
        lora_A.Remove(adapter);
        lora_B.Remove(adapter);
        lora_E.Remove(adapter);
        lora_dropout.Remove(adapter);
        _settings.Remove(adapter);
    }
}
