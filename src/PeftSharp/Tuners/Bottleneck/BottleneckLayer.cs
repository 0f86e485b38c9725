using PeftSharp.Models.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Bottleneck;

/// <summary>
/// Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2020) on the output projection f of a sublayer, the one
/// whose output feeds the residual add: y = f(x) + W_up sigma(W_down dropout(f(x)) + b_down) + b_up, with
/// W_down [m, d], W_up [d, m], m = d / reduction_factor. W_up and b_up start at zero, so the adapter starts as the
/// identity exactly. Several active adapters each read f(x) and their outputs add up. The nonlinearity sits between
/// the two projections, so the adapter is no change of f's weights and cannot be merged into them.
/// </summary>
/// <remarks>
/// Wrapping the projection rather than editing the blocks puts the adapter before the sublayer's own dropout (which is
/// off at inference and in PeftSharp's defaults), one step earlier than in the papers; the function is otherwise the
/// same and needs no change to any model.
/// </remarks>
public sealed class BottleneckLayer : AdapterLayer
{
    /// <summary>Why <see cref="MergeOne"/> refuses; also the refusal of <c>peft merge</c>.</summary>
    public const string NotMergeable = "a bottleneck adapter puts a nonlinearity between its two projections, so what it adds is not a weight change that could be folded into the wrapped layer";

    private readonly AdapterDict<Linear> adapter_down = new();
    private readonly AdapterDict<Linear> adapter_up = new();
    private readonly AdapterDict<nn.Module<Tensor, Tensor>> adapter_dropout = new();
    private readonly Dictionary<string, Func<Tensor, Tensor>> _activation = new(StringComparer.Ordinal);
    private readonly LinearBase _base;

    public BottleneckLayer(nn.Module<Tensor, Tensor> baseLayer) : base(nameof(BottleneckLayer), baseLayer)
    {
        _base = LinearBase.TryCreate(baseLayer) ?? throw new PeftException($"a bottleneck adapter cannot wrap a {baseLayer.GetType().Name}");
    }

    /// <summary>Adds an adapter: W_down and b_down as nn.Linear initialises them, W_up and b_up zero (or random without init_weights).</summary>
    public void AddAdapter(string adapter, BottleneckConfig config)
    {
        if (_activation.ContainsKey(adapter)) throw new PeftException($"adapter \"{adapter}\" already exists on this layer");
        long d = _base.OutFeatures, m = config.BottleneckSize(d);
        var device = _base.Device;
        var dtype = _base.DType;
        var down = nn.Linear(d, m, hasBias: true, device: device, dtype: dtype);
        var up = nn.Linear(m, d, hasBias: true, device: device, dtype: dtype);
        if (config.InitWeights)
            using (no_grad())
            {
                nn.init.zeros_(up.weight);
                nn.init.zeros_(up.bias!);
            }
        adapter_down.Add(adapter, down);
        adapter_up.Add(adapter, up);
        adapter_dropout.Add(adapter, config.AdapterDropout > 0 ? nn.Dropout(config.AdapterDropout) : nn.Identity());
        _activation[adapter] = Activations.Get(config.NonLinearity, "non_linearity");
        Added(adapter);
    }

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"adapter_down.{adapter}.weight", adapter_down[adapter].weight);
        yield return ($"adapter_down.{adapter}.bias", adapter_down[adapter].bias!);
        yield return ($"adapter_up.{adapter}.weight", adapter_up[adapter].weight);
        yield return ($"adapter_up.{adapter}.bias", adapter_up[adapter].bias!);
    }

    /// <summary>What the adapter adds to the projection's output f: W_up sigma(W_down dropout(f) + b_down) + b_up.</summary>
    private Tensor Delta(string adapter, Tensor f)
    {
        var h = adapter_down[adapter].forward(adapter_dropout[adapter].forward(f));
        return adapter_up[adapter].forward(_activation[adapter](h));
    }

    protected override Tensor ForwardActive(Tensor x, Tensor? baseOutput, IReadOnlyList<string> adapters)
    {
        var f = baseOutput ?? BaseForward(x);
        var result = f;
        foreach (var adapter in adapters) result = result.add(Delta(adapter, f));
        return result;
    }

    /// <summary>Each adapter's rows get f + its output (index_add); the other rows keep f.</summary>
    protected override Tensor ForwardRows(Tensor x, Tensor? baseOutput, IReadOnlyList<string> rows)
    {
        var f = baseOutput ?? BaseForward(x);
        var result = f;
        foreach (var (adapter, index) in RowIndices(rows, x))
            result = result.index_add(0, index, Delta(adapter, f.index_select(0, index)), 1);
        return result;
    }

    protected override void MergeOne(string adapter) => throw new PeftException($"adapter \"{adapter}\" cannot be merged: {NotMergeable}");

    protected override void RemoveAdapter(string adapter)
    {
        adapter_down.Remove(adapter);
        adapter_up.Remove(adapter);
        adapter_dropout.Remove(adapter);
        _activation.Remove(adapter);
    }
}
