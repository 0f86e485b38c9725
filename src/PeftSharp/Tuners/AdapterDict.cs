using PeftSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// Per-adapter children of a wrapper layer, registered under the adapter's name so parameters are
/// named as PEFT names them (lora_A.default.weight). TorchSharp's ModuleDict registers only once,
/// at construction; adapters come and go, so this registers and unregisters as they do.
/// </summary>
public sealed class AdapterDict<T> : nn.Module where T : nn.Module
{
    public AdapterDict() : base("AdapterDict") { }

    public IEnumerable<string> Names => named_children().Select(c => c.name);

    public bool Contains(string adapter) => ModuleTree.Registry(this).ContainsKey(adapter);

    public T this[string adapter] => (T)ModuleTree.Registry(this)[adapter];

    public void Add(string adapter, T module)
    {
        if (adapter.Length == 0 || adapter.Contains('.')) throw new PeftException($"adapter name \"{adapter}\" must be non-empty and contain no '.'");
        register_module(adapter, module);
    }

    public void Remove(string adapter)
    {
        var registry = ModuleTree.Registry(this);
        if (registry.TryGetValue(adapter, out var module))
        {
            registry.Remove(adapter);
            module.Dispose();
        }
    }
}

/// <summary>A module holding one parameter named "weight" (DoRA's magnitude, IA3's scaling vectors).</summary>
public sealed class ParameterHolder : nn.Module
{
    private readonly TorchSharp.Modules.Parameter weight;

    public ParameterHolder(torch.Tensor value) : base(nameof(ParameterHolder))
    {
        weight = new TorchSharp.Modules.Parameter(value);
        RegisterComponents();
    }

    public TorchSharp.Modules.Parameter Weight => weight;
}

/// <summary>
/// One parameter per adapter, registered under the adapter's name, for methods whose PEFT names are
/// "ia3_l.default" (a ParameterDict) rather than "....default.weight".
/// </summary>
public sealed class AdapterParameterDict : nn.Module
{
    public AdapterParameterDict() : base("AdapterParameterDict") { }

    public bool Contains(string adapter) => named_parameters(recurse: false).Any(p => p.name == adapter);

    public TorchSharp.Modules.Parameter this[string adapter] => named_parameters(recurse: false).First(p => p.name == adapter).parameter;

    public void Add(string adapter, TorchSharp.Modules.Parameter parameter)
    {
        if (adapter.Length == 0 || adapter.Contains('.')) throw new PeftException($"adapter name \"{adapter}\" must be non-empty and contain no '.'");
        register_parameter(adapter, parameter);
    }

    public void Remove(string adapter)
    {
        if (!Contains(adapter)) return;
        var parameter = this[adapter];
        var field = typeof(nn.Module).GetField("_internal_params", System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance)!;
        // TorchSharp's OrderedDict is a generic IDictionary only (the non-generic cast threw InvalidCastException).
        ((IDictionary<string, TorchSharp.Modules.Parameter>)field.GetValue(this)!).Remove(adapter);
        parameter.Dispose();
    }
}
