using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.LnTuning;

/// <summary>
/// LayerNorm tuning (Zhao et al. 2023, "Tuning LayerNorm in Attention", PEFT's LN_TUNING): each adapter is a trainable
/// copy of the targeted module, equal to it when made, under ln_tuning_layers.&lt;adapter&gt;; y = copy(x) while the
/// adapter is active, the original's output when disabled. The copy replaces the module rather than adding to it, so
/// only one adapter can be active or merged at a time. Merging swaps the values of copy and original (PEFT swaps
/// the modules): the base then computes with the trained values, and unmerging swaps them back exactly.
/// </summary>
public sealed class LnTuningLayer : AdapterLayer
{
    private readonly AdapterDict<nn.Module<Tensor, Tensor>> ln_tuning_layers = new();
    private readonly string _name;

    public LnTuningLayer(nn.Module<Tensor, Tensor> baseLayer, string name) : base(nameof(LnTuningLayer), baseLayer)
    {
        _name = name;
    }

    public void AddAdapter(string adapter)
    {
        if (ln_tuning_layers.Contains(adapter)) throw new PeftException($"adapter \"{adapter}\" already exists on {_name}");
        ln_tuning_layers.Add(adapter, NormCopy.Clone(Wrapped, _name));
        Added(adapter);
    }

    public override bool CombinesAdapters => false;

    /// <summary>An active copy computes instead of the original (whose bias the copy trains already).</summary>
    public override bool RunsBaseLayer => false;

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter) =>
        ln_tuning_layers[adapter].named_parameters().Select(p => ($"ln_tuning_layers.{adapter}.{p.name}", p.parameter));

    protected override Tensor ForwardActive(Tensor x, Tensor? baseOutput, IReadOnlyList<string> adapters) =>
        adapters.Count == 0 ? baseOutput ?? BaseForward(x) : ln_tuning_layers[adapters[0]].forward(x);

    /// <summary>Each adapter's rows go through its copy and replace the original's output there (index_copy).</summary>
    protected override Tensor ForwardRows(Tensor x, Tensor? baseOutput, IReadOnlyList<string> rows)
    {
        var result = baseOutput ?? BaseForward(x);
        foreach (var (adapter, index) in RowIndices(rows, x))
            result = result.index_copy(0, index, ln_tuning_layers[adapter].forward(x.index_select(0, index)));
        return result;
    }

    protected override void MergeOne(string adapter)
    {
        if (AnyMerged) throw new PeftException($"{_name}: LN tuning merges one adapter at a time; unmerge before merging \"{adapter}\"");
        Swap(adapter);
    }

    protected override void UnmergeOne(string adapter) => Swap(adapter);

    /// <summary>Exchanges the values of the original's parameters and the copy's, name by name.</summary>
    private void Swap(string adapter)
    {
        var copy = ln_tuning_layers[adapter].named_parameters().ToDictionary(p => p.name, p => p.parameter);
        foreach (var (name, original) in Wrapped.named_parameters())
        {
            var saved = original.detach().clone();
            original.copy_(copy[name]);
            copy[name].copy_(saved);
        }
    }

    protected override void RemoveAdapter(string adapter) => ln_tuning_layers.Remove(adapter);
}
