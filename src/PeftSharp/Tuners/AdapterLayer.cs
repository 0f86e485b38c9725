using PeftSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// The bookkeeping every wrapper layer shares, whatever the method: the wrapped original, which adapters exist,
/// are active and are merged, disabling, per-row adapters, the merge/unmerge loops and the delete guard. A method
/// adds its own tensors, its forward formula (<see cref="ForwardActive"/>, <see cref="ForwardRows"/>) and, if it
/// can fold into the base weights, <see cref="MergeOne"/> and <see cref="UnmergeOne"/>.
/// </summary>
/// <remarks>
/// The constructor registers the derived class's fields (TorchSharp's RegisterComponents, once); so derived classes
/// initialise their module fields where they declare them and never call RegisterComponents themselves.
/// </remarks>
public abstract class AdapterLayer : nn.Module<Tensor, Tensor>, IAdapterLayer, IForwardWithBase
{
    /// <summary>The name a row of <see cref="RowAdapters"/> gives for "no adapter, the base alone".</summary>
    public const string BaseRow = "__base__";

    /// <inheritdoc />
    public virtual bool CombinesAdapters => true;

    // Assigned only after RegisterComponents: TorchSharp registers every module-valued field under the field's own
    // name, and the original must be registered once, under baseName (PEFT's name), at the position asked for.
    // The component name lets ModuleTree.Replace find this field when another method wraps the original in turn
    // (BitFit's copy of a bias under a LoRA layer), so the forward below runs the new wrapper.
    [TorchSharp.Utils.ComponentName(Name = "base_layer")]
    private readonly nn.Module<Tensor, Tensor> _wrapped;
    private readonly List<string> _adapters = [];
    private readonly List<string> _merged = [];

    /// <param name="baseName">The original's parameter-name segment: "base_layer", or "original_module" for modules_to_save.</param>
    /// <param name="registerBaseLast">
    /// True lists the original's parameters after the adapter tensors in named_parameters(), as the delta-W methods
    /// (LoHa, LoKr, VeRA, AdaLoRA) always have; false lists them first, as LoRA, IA3 and modules_to_save (and PEFT) do.
    /// </param>
    protected AdapterLayer(string name, nn.Module<Tensor, Tensor> baseLayer, string baseName = "base_layer", bool registerBaseLast = false) : base(name)
    {
        if (!registerBaseLast) register_module(baseName, baseLayer);
        RegisterComponents();
        if (registerBaseLast) register_module(baseName, baseLayer);
        _wrapped = baseLayer;
    }

    public nn.Module BaseLayer => _wrapped;

    /// <summary>
    /// Whether the output is computed by running the wrapped original (then a wrapper put around the original, such as
    /// BitFit's bias copy, takes part); false for layers that compute with a copy instead (LN tuning, modules_to_save).
    /// </summary>
    public virtual bool RunsBaseLayer => true;
    public IEnumerable<string> AdapterNames => _adapters;
    public IReadOnlyList<string> ActiveAdapters { get; set; } = [];
    public bool Disabled { get; set; }
    public IReadOnlyList<string>? RowAdapters { get; set; }
    public IReadOnlyList<string> MergedAdapters => _merged.ToList();

    public abstract IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter);

    /// <summary>The wrapped original, for the method's forward.</summary>
    protected nn.Module<Tensor, Tensor> Wrapped => _wrapped;

    /// <summary>The original's output for x (without hooks).</summary>
    protected Tensor BaseForward(Tensor x) => _wrapped.forward(x);

    /// <summary>Derived classes call this once an adapter's tensors exist; from then on it counts as one of the layer's adapters.</summary>
    protected void Added(string adapter)
    {
        if (!_adapters.Contains(adapter)) _adapters.Add(adapter);
    }

    private bool Has(string adapter) => _adapters.Contains(adapter);

    private bool IsMerged(string adapter) => _merged.Contains(adapter);

    protected bool AnyMerged => _merged.Count > 0;

    /// <summary>The output with the given adapters applied (active ones this layer has, not merged), in the order given.</summary>
    /// <param name="baseOutput">The original's output when a forward hook already computed it, else null.</param>
    protected abstract Tensor ForwardActive(Tensor x, Tensor? baseOutput, IReadOnlyList<string> adapters);

    /// <summary>The output where each batch row uses its own adapter; see <see cref="RowIndices"/>.</summary>
    protected abstract Tensor ForwardRows(Tensor x, Tensor? baseOutput, IReadOnlyList<string> rows);

    /// <summary>Frees the adapter's own tensors and settings; it is not merged (see <see cref="DeleteAdapter"/>).</summary>
    protected abstract void RemoveAdapter(string adapter);

    /// <summary>False for layers with nothing to fold into the original (modules_to_save, whose copy replaces it only at unload).</summary>
    protected virtual bool CanMerge => true;

    /// <summary>Folds one adapter into the original's weights; runs under no_grad in a dispose scope of its own.</summary>
    protected virtual void MergeOne(string adapter) => throw new NotSupportedException($"{GetType().Name} cannot merge");

    /// <summary>Takes one merged adapter back out of the original's weights (last merged first); under no_grad, own dispose scope.</summary>
    protected virtual void UnmergeOne(string adapter) => throw new NotSupportedException($"{GetType().Name} cannot unmerge");

    /// <summary>
    /// Per adapter named in rows (in order of first appearance), the index tensor of its rows. Rows naming
    /// <see cref="BaseRow"/> or an adapter this layer does not have are left out: they keep the base output.
    /// </summary>
    protected IReadOnlyList<(string Adapter, Tensor Rows)> RowIndices(IReadOnlyList<string> rows, Tensor x)
    {
        if (rows.Count != x.shape[0]) throw new PeftException($"{rows.Count} adapter names for a batch of {x.shape[0]} rows");
        return rows.Distinct().Where(a => a != BaseRow && Has(a))
            .Select(a => (a, tensor(Enumerable.Range(0, rows.Count).Where(i => rows[i] == a).Select(i => (long)i).ToArray(), device: x.device)))
            .ToList();
    }

    public override Tensor forward(Tensor x) => Route(x, null);

    public Tensor ForwardWithBase(Tensor input, Tensor baseOutput) => Route(input, baseOutput);

    /// <summary>
    /// Disabled wins and means the original alone: merged adapters are taken out first (as PEFT does), and then an
    /// output computed with them merged is stale. Otherwise per-row adapters if set, else the active ones.
    /// </summary>
    private Tensor Route(Tensor x, Tensor? baseOutput)
    {
        if (Disabled)
        {
            if (AnyMerged)
            {
                Unmerge();
                baseOutput = null;
            }
            return baseOutput ?? BaseForward(x);
        }
        if (RowAdapters is { } rows) return ForwardRows(x, baseOutput, rows);
        return ForwardActive(x, baseOutput, ActiveAdapters.Where(a => Has(a) && !IsMerged(a)).ToList());
    }

    /// <summary>Merges each named adapter this layer has and has not merged yet, in order.</summary>
    public void Merge(IEnumerable<string> adapters)
    {
        if (!CanMerge) return;
        using var _ = no_grad();
        foreach (var adapter in adapters)
        {
            if (!Has(adapter) || IsMerged(adapter)) continue;
            using var scope = NewDisposeScope();
            MergeOne(adapter);
            _merged.Add(adapter);
        }
    }

    /// <summary>Unmerges every merged adapter, last merged first, so the original's weights come back.</summary>
    public void Unmerge()
    {
        using var _ = no_grad();
        for (int i = _merged.Count - 1; i >= 0; i--)
        {
            using var scope = NewDisposeScope();
            UnmergeOne(_merged[i]);
        }
        _merged.Clear();
    }

    public void DeleteAdapter(string adapter)
    {
        if (IsMerged(adapter)) throw new PeftException($"adapter \"{adapter}\" is merged; unmerge it before deleting");
        RemoveAdapter(adapter);
        _adapters.Remove(adapter);
        ActiveAdapters = ActiveAdapters.Where(a => a != adapter).ToList();
    }
}
