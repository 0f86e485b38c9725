using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// A whole module trained alongside the adapter (a new classifier, an lm_head): the original stays frozen
/// under original_module and each adapter gets its own trainable copy under modules_to_save, as in PEFT.
/// </summary>
public sealed class ModulesToSaveWrapper : nn.Module<Tensor, Tensor>, IAdapterLayer, IForwardWithBase
{
    private readonly nn.Module<Tensor, Tensor> original_module;
    private readonly AdapterDict<nn.Module<Tensor, Tensor>> modules_to_save = new();
    private readonly string _name;

    public ModulesToSaveWrapper(nn.Module<Tensor, Tensor> original, string name) : base(nameof(ModulesToSaveWrapper))
    {
        original_module = original;
        _name = name;
        RegisterComponents();
    }

    public nn.Module BaseLayer => original_module;
    public IEnumerable<string> AdapterNames => modules_to_save.Names;
    public IReadOnlyList<string> ActiveAdapters { get; set; } = [];
    public bool Disabled { get; set; }
    public IReadOnlyList<string>? RowAdapters { get; set; }
    public IReadOnlyList<string> MergedAdapters => [];

    public void AddAdapter(string adapter) => modules_to_save.Add(adapter, ModuleCopy.Clone(original_module, _name));

    public nn.Module<Tensor, Tensor> Copy(string adapter) => modules_to_save[adapter];

    public IEnumerable<(string Name, Parameter Parameter)> AdapterParameters(string adapter) =>
        modules_to_save[adapter].named_parameters().Select(p => ($"modules_to_save.{adapter}.{p.name}", p.parameter));

    public override Tensor forward(Tensor x) => ForwardWithBase(x, null);

    public Tensor ForwardWithBase(Tensor x, Tensor? baseOutput)
    {
        if (RowAdapters != null)
        {
            var result = baseOutput ?? original_module.forward(x);
            foreach (var adapter in RowAdapters.Distinct().Where(modules_to_save.Contains))
            {
                var index = tensor(Enumerable.Range(0, RowAdapters.Count).Where(i => RowAdapters[i] == adapter).Select(i => (long)i).ToArray(), device: x.device);
                result = result.index_copy(0, index, modules_to_save[adapter].forward(x.index_select(0, index)));
            }
            return result;
        }
        var active = Disabled ? null : ActiveAdapters.FirstOrDefault(modules_to_save.Contains);
        return active is null ? baseOutput ?? original_module.forward(x) : modules_to_save[active].forward(x);
    }

    public void Merge(IEnumerable<string> adapters) { }
    public void Unmerge() { }
    public void DeleteAdapter(string adapter)
    {
        modules_to_save.Remove(adapter);
        ActiveAdapters = ActiveAdapters.Where(a => a != adapter).ToList();
    }
}
