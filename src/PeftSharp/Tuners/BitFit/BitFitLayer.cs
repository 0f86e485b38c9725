using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.BitFit;

/// <summary>
/// BitFit (Ben Zaken et al. 2021) on one module with a bias b (Linear, GPT-2's Conv1D, LayerNorm): the adapter is its
/// own copy b' of the bias, equal to b when made, under bias.&lt;adapter&gt; (saved as &lt;module&gt;.bias, the module's
/// own key). Every such module adds its bias last, so y = f(x) + (b' - b) is the module computed with b' while the
/// original stays untouched, which is what disabling and unloading need. Merging writes b' into the module (the
/// original b is kept and written back on unmerge, exactly); one adapter at a time, since b' replaces b.
/// </summary>
public sealed class BitFitLayer : AdapterLayer
{
    private readonly AdapterParameterDict bias = new();
    private readonly Dictionary<string, Tensor> _originals = new(StringComparer.Ordinal);
    private readonly Parameter _baseBias;
    private readonly string _name;

    public BitFitLayer(nn.Module<Tensor, Tensor> baseLayer, string name) : base(nameof(BitFitLayer), baseLayer)
    {
        _name = name;
        _baseBias = BiasOf(baseLayer) ?? throw new PeftException($"BitFit: \"{name}\" ({baseLayer.GetType().Name}) has no bias");
    }

    /// <summary>The module's own bias parameter (not one of its children's), or null.</summary>
    public static Parameter? BiasOf(nn.Module module) =>
        module.named_parameters(recurse: false).Where(p => p.name == "bias").Select(p => p.parameter).FirstOrDefault();

    public void AddAdapter(string adapter)
    {
        if (bias.Contains(adapter)) throw new PeftException($"adapter \"{adapter}\" already exists on {_name}");
        using (no_grad()) bias.Add(adapter, new Parameter(_baseBias.detach().clone()));
        Added(adapter);
    }

    public override bool CombinesAdapters => false;

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter)
    {
        yield return ($"bias.{adapter}", bias[adapter]);
    }

    private Tensor Shift(string adapter) => bias[adapter].sub(_baseBias);

    protected override Tensor ForwardActive(Tensor x, Tensor? baseOutput, IReadOnlyList<string> adapters)
    {
        var y = baseOutput ?? BaseForward(x);
        return adapters.Count == 0 ? y : y.add(Shift(adapters[0]));
    }

    /// <summary>Each adapter's rows get its bias shift (index_add); the other rows keep the original's output.</summary>
    protected override Tensor ForwardRows(Tensor x, Tensor? baseOutput, IReadOnlyList<string> rows)
    {
        var y = baseOutput ?? BaseForward(x);
        var result = y;
        foreach (var (adapter, index) in RowIndices(rows, x))
            result = result.index_add(0, index, Shift(adapter).expand_as(y.index_select(0, index)), 1);
        return result;
    }

    protected override void MergeOne(string adapter)
    {
        if (AnyMerged) throw new PeftException($"{_name}: BitFit merges one adapter at a time; unmerge before merging \"{adapter}\"");
        var original = _baseBias.detach().clone().DetachFromDisposeScope();
        _baseBias.copy_(bias[adapter]);
        _originals[adapter] = original;
    }

    protected override void UnmergeOne(string adapter)
    {
        using var original = _originals[adapter];
        _baseBias.copy_(original);
        _originals.Remove(adapter);
    }

    protected override void RemoveAdapter(string adapter) => bias.Remove(adapter);
}
