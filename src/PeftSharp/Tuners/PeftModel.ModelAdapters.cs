using PeftSharp.Models;
using TorchSharp.Modules;

namespace PeftSharp.Tuners;

/// <summary>
/// The model-level side of adapters (<see cref="IModelAdapter"/>: prompt-learning methods). Kept apart from the
/// wrapper-layer bookkeeping: the rest of PeftModel calls into these members at each point where an adapter is
/// added, activated, disabled, trained, saved, merged or removed.
/// </summary>
public sealed partial class PeftModel
{
    private readonly Dictionary<string, IModelAdapter> _modelAdapters = new(StringComparer.Ordinal);
    /// <summary>The hooks the model had before PeftModel touched it; kept in front of ours and restored on unload.</summary>
    private IReadOnlyList<IForwardHook> _baseHooks = [];
    /// <summary>The adapters whose hooks apply (the active ones).</summary>
    private IReadOnlyList<string> _hookAdapters = [];
    private int _hooksDisabled;

    /// <summary>Adapters' model-level parts by adapter name.</summary>
    public IReadOnlyDictionary<string, IModelAdapter> ModelAdapters => _modelAdapters;

    private void CaptureBaseHooks() => _baseHooks = (Model as PretrainedModel)?.ForwardHooks ?? [];

    private void AddModelAdapter(string adapter, ITuner tuner, PeftConfig config)
    {
        if (Model is not PretrainedModel model) return;
        if (tuner.CreateModelAdapter(model, adapter, config) is { } part) _modelAdapters[adapter] = part;
    }

    /// <summary>Only the active adapters' hooks apply; PEFT applies one prompt-learning adapter at a time.</summary>
    private void SelectModelAdapterHooks(IReadOnlyList<string> active)
    {
        var withHooks = active.Where(_modelAdapters.ContainsKey).ToList();
        // An adapter acting on the inputs (virtual tokens, a key/value prefix) is kept apart from every other adapter,
        // as PEFT keeps prompt learning apart: one of them is active at a time.
        if (withHooks.Count > 0 && active.Count > 1)
            throw new PeftException($"adapter \"{withHooks[0]}\" acts on the model's inputs and is kept apart from the other adapters ({string.Join(", ", active.Where(a => a != withHooks[0]).Select(a => $"\"{a}\""))}): activate them one at a time");
        _hookAdapters = active.ToList();
        InstallModelAdapterHooks();
    }

    private void InstallModelAdapterHooks()
    {
        if (Model is not PretrainedModel model) return;
        var ours = _hooksDisabled > 0 ? [] : _hookAdapters.Where(_modelAdapters.ContainsKey).Select(a => _modelAdapters[a].Hook);
        model.ForwardHooks = _baseHooks.Concat(ours).ToList();
    }

    /// <summary>Within the returned scope no adapter hook applies.</summary>
    private IDisposable DisableModelAdapterHooks()
    {
        _hooksDisabled++;
        InstallModelAdapterHooks();
        return new Scope(() => { _hooksDisabled--; InstallModelAdapterHooks(); });
    }

    /// <summary>The active adapter's model-level tensors train when the adapter does; every other one is frozen.</summary>
    private void ApplyModelAdapterTrainability()
    {
        foreach (var (name, part) in _modelAdapters)
            foreach (var (_, p) in part.Parameters)
                p.requires_grad = _trainable && name == ActiveAdapter;
    }

    private IEnumerable<(string Name, Parameter Parameter)> ModelAdapterParameters() =>
        _modelAdapters.Values.SelectMany(part => part.Parameters.Select(p => (p.Key, p.Parameter)));

    /// <summary>The adapter's model-level tensors under their saved keys, added to its state dict.</summary>
    private void AddModelAdapterTensors(string adapter, Dictionary<string, TorchSharp.torch.Tensor> result)
    {
        if (!_modelAdapters.TryGetValue(adapter, out var part)) return;
        foreach (var (key, p) in part.Parameters)
            if (!result.TryAdd(key, p)) throw new PeftException($"adapter \"{adapter}\": two tensors are saved under the key {key}");
    }

    /// <summary>Throws, before anything is merged, if one of the adapters cannot merge.</summary>
    private void RefuseUnmergeable(IEnumerable<string> adapters)
    {
        foreach (var adapter in adapters)
        {
            if (!_configs.TryGetValue(adapter, out var config)) continue; // merging an unknown name does nothing, as before
            if (_modelAdapters.ContainsKey(adapter))
                throw new PeftException($"adapter \"{adapter}\" ({config.PeftType}) cannot be merged: it acts on the model's inputs (virtual tokens or a key/value prefix), not on weights");
            var tuner = TunerRegistry.For(config.PeftType);
            if (!tuner.CanMerge(config))
                throw new PeftException($"adapter \"{adapter}\" ({config.PeftType}) cannot be merged: {tuner.Description.NotMergeableBecause ?? "the method does not support merging"}");
        }
    }

    /// <summary>A batch mixing adapters row by row cannot use a hook, which changes the whole batch.</summary>
    private void RefuseRowAdaptersWithHooks(IReadOnlyList<string>? rowAdapters)
    {
        if (rowAdapters is null) return;
        var hooked = rowAdapters.Concat(_hookAdapters).Where(_modelAdapters.ContainsKey).Distinct().ToList();
        if (hooked.Count > 0)
            throw new PeftException($"adapter \"{hooked[0]}\" acts on the model's inputs and cannot be mixed per row");
    }

    private void RemoveModelAdapter(string adapter)
    {
        if (!_modelAdapters.Remove(adapter, out var part)) return;
        part.Dispose();
        InstallModelAdapterHooks();
    }

    private void RemoveAllModelAdapters()
    {
        foreach (var part in _modelAdapters.Values) part.Dispose();
        _modelAdapters.Clear();
        _hookAdapters = [];
        if (Model is PretrainedModel model) model.ForwardHooks = _baseHooks;
    }
}
