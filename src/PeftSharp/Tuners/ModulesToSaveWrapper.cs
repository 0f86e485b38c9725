using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// A whole module trained alongside the adapter (a new classifier, an lm_head): the original stays frozen
/// under original_module and each adapter gets its own trainable copy under modules_to_save, as in PEFT.
/// </summary>
public sealed class ModulesToSaveWrapper : AdapterLayer
{
    private readonly AdapterDict<nn.Module<Tensor, Tensor>> modules_to_save = new();
    private readonly string _name;

    public ModulesToSaveWrapper(nn.Module<Tensor, Tensor> original, string name)
        : base(nameof(ModulesToSaveWrapper), original, baseName: "original_module")
    {
        _name = name;
    }

    public void AddAdapter(string adapter)
    {
        modules_to_save.Add(adapter, ModuleCopy.Clone(Wrapped, _name));
        Added(adapter);
    }

    public nn.Module<Tensor, Tensor> Copy(string adapter) => modules_to_save[adapter];

    public override IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter) =>
        modules_to_save[adapter].named_parameters().Select(p => ($"modules_to_save.{adapter}.{p.name}", p.parameter));

    /// <summary>y = copy(x) for the first active adapter that has a copy here; the original's output when none has.</summary>
    /// <summary>Each adapter's copy replaces the module, so only one of them can be active.</summary>
    public override bool CombinesAdapters => false;

    protected override Tensor ForwardActive(Tensor x, Tensor? baseOutput, IReadOnlyList<string> adapters) =>
        adapters.Count == 0 ? baseOutput ?? BaseForward(x) : modules_to_save[adapters[0]].forward(x);

    /// <summary>Each adapter's rows go through its copy and replace the original's output there (index_copy).</summary>
    protected override Tensor ForwardRows(Tensor x, Tensor? baseOutput, IReadOnlyList<string> rows)
    {
        var result = baseOutput ?? BaseForward(x);
        foreach (var (adapter, index) in RowIndices(rows, x))
            result = result.index_copy(0, index, modules_to_save[adapter].forward(x.index_select(0, index)));
        return result;
    }

    /// <summary>Nothing to fold in: PeftModel puts the trained copy in the original's place when it unloads.</summary>
    protected override bool CanMerge => false;

    /// <summary>An active copy replaces the original, so nothing wrapped around the original would take part.</summary>
    public override bool RunsBaseLayer => false;

    protected override void RemoveAdapter(string adapter) => modules_to_save.Remove(adapter);
}
