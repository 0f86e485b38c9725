using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Vera;

/// <summary>
/// VeRA (Kopiczko et al., 2024): y = base(x) + lambda_b * (B (lambda_d * (A dropout(x)))) with A and B frozen random
/// projections shared by every layer (sliced to the layer's size) and only the two vectors trained.
/// </summary>
public sealed class VeraLayer : DeltaWeightLayer, ISharedAdapterTensors
{
    private readonly AdapterParameterDict vera_lambda_b = new();
    private readonly AdapterParameterDict vera_lambda_d = new();
    private readonly AdapterDict<nn.Module<Tensor, Tensor>> vera_dropout = new();
    private readonly Dictionary<string, (Tensor A, Tensor B)> _projections = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unsavedProjections = new(StringComparer.Ordinal);

    public VeraLayer(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(VeraLayer), "VeRA", baseLayer, allowConv1D: true) { }

    /// <summary>Adds an adapter over the shared projections A [r, max_in] and B [max_out, r] (not owned by this layer).</summary>
    public void AddAdapter(string adapter, Tensor sharedA, Tensor sharedB, VeraConfig config)
    {
        long r = sharedA.shape[0];
        var dtype = Base.DType;
        var device = Base.Device;
        var lambdaB = config.InitWeights ? zeros(Base.OutFeatures, dtype: dtype, device: device) : ones(Base.OutFeatures, dtype: dtype, device: device);
        var lambdaD = config.InitWeights ? full(r, config.DInitial, dtype: dtype, device: device) : randn(r, dtype: dtype, device: device);
        vera_lambda_b.Add(adapter, new Parameter(lambdaB));
        vera_lambda_d.Add(adapter, new Parameter(lambdaD));
        vera_dropout.Add(adapter, config.VeraDropout > 0 ? nn.Dropout(config.VeraDropout) : nn.Identity());
        _projections[adapter] = (sharedA, sharedB);
        if (!config.SaveProjection) _unsavedProjections.Add(adapter);
        Added(adapter);
    }

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"vera_lambda_b.{adapter}", vera_lambda_b[adapter]);
        yield return ($"vera_lambda_d.{adapter}", vera_lambda_d[adapter]);
    }

    /// <summary>The projections, unless the config regenerates them from projection_prng_key (save_projection false).</summary>
    public IEnumerable<(string Name, Tensor Tensor)> SharedTensors(string adapter)
    {
        if (_unsavedProjections.Contains(adapter)) yield break;
        var (a, b) = _projections[adapter];
        yield return ("vera_A", a);
        yield return ("vera_B", b);
    }

    private (Tensor A, Tensor B) Sliced(string adapter)
    {
        var (a, b) = _projections[adapter];
        return (a[.., ..(int)Base.InFeatures], b[..(int)Base.OutFeatures, ..]);
    }

    /// <summary>lambda_b * (B (lambda_d * (A dropout(x)))), without forming delta W.</summary>
    protected override Tensor Contribution(string adapter, Tensor x)
    {
        var (a, b) = Sliced(adapter);
        var h = nn.functional.linear(vera_dropout[adapter].forward(x), a).mul(vera_lambda_d[adapter]);
        return nn.functional.linear(h, b).mul(vera_lambda_b[adapter]);
    }

    /// <summary>(lambda_b B)(lambda_d A): the adapter's contribution to the weight, [out, in].</summary>
    public override Tensor DeltaWeight(string adapter)
    {
        var (a, b) = Sliced(adapter);
        return b.mul(vera_lambda_b[adapter].unsqueeze(-1)).matmul(a.mul(vera_lambda_d[adapter].unsqueeze(-1)));
    }

    protected override void RemoveAdapter(string adapter)
    {
        vera_lambda_b.Remove(adapter);
        vera_lambda_d.Remove(adapter);
        vera_dropout.Remove(adapter);
        _projections.Remove(adapter);
        _unsavedProjections.Remove(adapter);
    }
}
