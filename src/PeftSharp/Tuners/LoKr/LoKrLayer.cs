using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.LoKr;

/// <summary>
/// LoKr (Kronecker-product adaptation, from LyCORIS): delta W = kron(w1, w2) * alpha / r, where the output and input
/// dimensions are each split into two factors and either Kronecker factor may itself be a low-rank product.
/// </summary>
public sealed class LoKrLayer : DeltaWeightLayer
{
    private readonly AdapterParameterDict lokr_w1 = new();
    private readonly AdapterParameterDict lokr_w1_a = new();
    private readonly AdapterParameterDict lokr_w1_b = new();
    private readonly AdapterParameterDict lokr_w2 = new();
    private readonly AdapterParameterDict lokr_w2_a = new();
    private readonly AdapterParameterDict lokr_w2_b = new();
    private readonly Dictionary<string, (double Scaling, double RankDropout, bool RankDropoutScale, double ModuleDropout)> _settings = new(StringComparer.Ordinal);

    public LoKrLayer(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(LoKrLayer), "LoKr", baseLayer, allowConv1D: false) { }

    private IEnumerable<AdapterParameterDict> Dicts => [lokr_w1, lokr_w1_a, lokr_w1_b, lokr_w2, lokr_w2_a, lokr_w2_b];

    public void AddAdapter(string adapter, int rank, double alpha, LoKrConfig config)
    {
        var (inM, inN) = LoKrConfig.Factorize((int)Base.InFeatures, config.DecomposeFactor);
        var (outL, outK) = LoKrConfig.Factorize((int)Base.OutFeatures, config.DecomposeFactor);
        bool fullW1 = !(config.DecomposeBoth && rank < Math.Max(outL, inM) / 2.0);
        bool fullW2 = !(rank < Math.Max(outK, inN) / 2.0);
        Parameter New(long rows, long cols) => new(empty(rows, cols, dtype: Base.DType, device: Base.Device));
        void Kaiming(Parameter p) => nn.init.kaiming_uniform_(p, a: Math.Sqrt(5));
        using (no_grad())
        {
            // "true": the first factor starts at zero; "lycoris": the second; "false": everything random.
            bool zeroFirst = config.InitWeights == "true", zeroSecond = config.InitWeights == "lycoris";
            if (fullW1)
            {
                var w1 = New(outL, inM);
                if (zeroFirst) nn.init.zeros_(w1); else Kaiming(w1);
                lokr_w1.Add(adapter, w1);
            }
            else
            {
                var a = New(outL, rank);
                var b = New(rank, inM);
                if (zeroFirst) nn.init.zeros_(a); else Kaiming(a);
                Kaiming(b);
                lokr_w1_a.Add(adapter, a);
                lokr_w1_b.Add(adapter, b);
            }
            if (fullW2)
            {
                var w2 = New(outK, inN);
                if (zeroSecond) nn.init.zeros_(w2); else Kaiming(w2);
                lokr_w2.Add(adapter, w2);
            }
            else
            {
                var a = New(outK, rank);
                var b = New(rank, inN);
                Kaiming(a);
                if (zeroSecond) nn.init.zeros_(b); else Kaiming(b);
                lokr_w2_a.Add(adapter, a);
                lokr_w2_b.Add(adapter, b);
            }
        }
        _settings[adapter] = (alpha / rank, config.RankDropout, config.RankDropoutScale, config.ModuleDropout);
        Added(adapter);
    }

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter) =>
        new[] { ("lokr_w1", lokr_w1), ("lokr_w1_a", lokr_w1_a), ("lokr_w1_b", lokr_w1_b), ("lokr_w2", lokr_w2), ("lokr_w2_a", lokr_w2_a), ("lokr_w2_b", lokr_w2_b) }
            .Where(d => d.Item2.Contains(adapter)).Select(d => ($"{d.Item1}.{adapter}", d.Item2[adapter]));

    /// <summary>delta W [out, in] = kron(w1, w2) * alpha / r; rank dropout (training) drops whole rows.</summary>
    public override Tensor DeltaWeight(string adapter)
    {
        var s = _settings[adapter];
        var w1 = lokr_w1.Contains(adapter) ? (Tensor)lokr_w1[adapter] : lokr_w1_a[adapter].matmul(lokr_w1_b[adapter]);
        var w2 = lokr_w2.Contains(adapter) ? (Tensor)lokr_w2[adapter] : lokr_w2_a[adapter].matmul(lokr_w2_b[adapter]);
        var weight = kron(w1, w2.contiguous()).mul(s.Scaling);
        return training && s.RankDropout > 0 ? RowDropout.Apply(weight, s.RankDropout, s.RankDropoutScale) : weight;
    }

    protected override bool Skipped(string adapter) => RowDropout.SkipModule(training, _settings[adapter].ModuleDropout);

    protected override void RemoveAdapter(string adapter)
    {
        foreach (var d in Dicts) d.Remove(adapter);
        _settings.Remove(adapter);
    }
}
