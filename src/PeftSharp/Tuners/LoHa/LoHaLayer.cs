using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.LoHa;

/// <summary>
/// LoHa (Hyeon-Woo et al., FedPara): the weight update is the Hadamard product of two low-rank products,
/// delta W = (w1_a w1_b) * (w2_a w2_b) * alpha / r, which reaches rank r^2 with 4 r (in + out) parameters.
/// </summary>
public sealed class LoHaLayer : DeltaWeightLayer
{
    private readonly AdapterParameterDict hada_w1_a = new();
    private readonly AdapterParameterDict hada_w1_b = new();
    private readonly AdapterParameterDict hada_w2_a = new();
    private readonly AdapterParameterDict hada_w2_b = new();
    private readonly Dictionary<string, (double Scaling, double RankDropout, double ModuleDropout)> _settings = new(StringComparer.Ordinal);

    public LoHaLayer(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(LoHaLayer), "LoHa", baseLayer, allowConv1D: false) { }

    public void AddAdapter(string adapter, int rank, double alpha, LoHaConfig config)
    {
        long outF = Base.OutFeatures, inF = Base.InFeatures;
        Parameter New(long rows, long cols) => new(empty(rows, cols, dtype: Base.DType, device: Base.Device));
        var (w1a, w1b, w2a, w2b) = (New(outF, rank), New(rank, inF), New(outF, rank), New(rank, inF));
        using (no_grad())
        {
            foreach (var w in new[] { w1a, w1b, w2a }) nn.init.kaiming_uniform_(w, a: Math.Sqrt(5));
            if (config.InitWeights) nn.init.zeros_(w2b); else nn.init.kaiming_uniform_(w2b, a: Math.Sqrt(5));
        }
        hada_w1_a.Add(adapter, w1a);
        hada_w1_b.Add(adapter, w1b);
        hada_w2_a.Add(adapter, w2a);
        hada_w2_b.Add(adapter, w2b);
        _settings[adapter] = (alpha / rank, config.RankDropout, config.ModuleDropout);
        Added(adapter);
    }

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"hada_w1_a.{adapter}", hada_w1_a[adapter]);
        yield return ($"hada_w1_b.{adapter}", hada_w1_b[adapter]);
        yield return ($"hada_w2_a.{adapter}", hada_w2_a[adapter]);
        yield return ($"hada_w2_b.{adapter}", hada_w2_b[adapter]);
    }

    /// <summary>delta W [out, in]; in training, rank dropout drops whole rows and rescales as PEFT does.</summary>
    public override Tensor DeltaWeight(string adapter)
    {
        var s = _settings[adapter];
        var weight = hada_w1_a[adapter].matmul(hada_w1_b[adapter]).mul(hada_w2_a[adapter].matmul(hada_w2_b[adapter])).mul(s.Scaling);
        return training && s.RankDropout > 0 ? RowDropout.Apply(weight, s.RankDropout, rescale: true) : weight;
    }

    protected override bool Skipped(string adapter) => RowDropout.SkipModule(training, _settings[adapter].ModuleDropout);

    protected override void RemoveAdapter(string adapter)
    {
        foreach (var dict in new[] { hada_w1_a, hada_w1_b, hada_w2_a, hada_w2_b }) dict.Remove(adapter);
        _settings.Remove(adapter);
    }
}
