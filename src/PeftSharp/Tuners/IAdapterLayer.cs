using TorchSharp;
using static TorchSharp.torch;
using TorchSharp.Modules;

namespace PeftSharp.Tuners;

/// <summary>
/// What PeftModel needs from every wrapper layer, whatever the method (LoRA, IA3, ...): the wrapped
/// original, its adapters and their parameters, which ones are active, and merging. Found by this
/// interface when walking the tree, never by checking concrete types.
/// </summary>
public interface IAdapterLayer
{
    /// <summary>The original module, kept unchanged unless an adapter is merged into it.</summary>
    nn.Module BaseLayer { get; }
    IEnumerable<string> AdapterNames { get; }
    /// <summary>Adapters applied in forward (several may be active at once where <see cref="CombinesAdapters"/>).</summary>
    IReadOnlyList<string> ActiveAdapters { get; set; }
    /// <summary>
    /// False for a layer whose adapters replace its output instead of adding to it (a modules_to_save copy): two of
    /// them cannot be active at once, since there is no sum of two classifier heads; PEFT refuses that too.
    /// </summary>
    bool CombinesAdapters => true;
    /// <summary>When true, forward is the base layer's alone.</summary>
    bool Disabled { get; set; }
    /// <summary>Per batch row, the adapter to apply ("__base__" for none); null means ActiveAdapters for all rows.</summary>
    IReadOnlyList<string>? RowAdapters { get; set; }
    IReadOnlyList<string> MergedAdapters { get; }

    /// <summary>Parameters of one adapter, named relative to this layer (lora_A.default.weight).</summary>
    IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter);
    void Merge(IEnumerable<string> adapters);
    void Unmerge();
    void DeleteAdapter(string adapter);
}
