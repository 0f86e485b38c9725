using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// A base model with one or more named adapters. The base is frozen; adapters are injected as wrapper
/// layers in the model's own module tree (ours or any TorchSharp module), so the model's forward is
/// unchanged code and the tree can always be restored. Saves and loads PEFT's exact files.
/// </summary>
public sealed partial class PeftModel
{
    public const string DefaultAdapter = "default";
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    /// <summary>
    /// PeftSharp's own file, written next to adapter_config.json when several adapters were active together (a method's
    /// adapter and the biases its layer groups train): which of the saved adapters load and run together. PEFT has no
    /// such file and loads the folder's own adapter alone.
    /// </summary>
    public const string ActiveAdaptersFile = "peftsharp_active_adapters.json";

    private readonly Dictionary<string, PeftConfig> _configs = new(StringComparer.Ordinal);
    private readonly List<ModuleTree.Replacement> _replacements = [];
    private readonly Dictionary<Parameter, bool> _originalRequiresGrad = new(ReferenceEqualityComparer.Instance);
    private readonly List<string> _warnings = [];

    private PeftModel(nn.Module model)
    {
        Model = model;
        foreach (var (_, p) in model.named_parameters()) _originalRequiresGrad[p] = p.requires_grad;
        CaptureBaseHooks();
    }

    /// <summary>The model with adapters in it; call its forward as before.</summary>
    public nn.Module Model { get; }
    public IReadOnlyDictionary<string, PeftConfig> Configs => _configs;
    public string ActiveAdapter { get; private set; } = DefaultAdapter;
    /// <summary>The adapters that apply (and, when trainable, train), in order; the first is <see cref="ActiveAdapter"/>.</summary>
    public IReadOnlyList<string> ActiveAdapters => _active;
    private IReadOnlyList<string> _active = [DefaultAdapter];
    /// <summary>Things worth telling the user (unknown config fields from a newer PEFT, ...).</summary>
    public IReadOnlyList<string> Warnings => _warnings;

    /// <summary>Freezes the base and adds a new, trainable adapter.</summary>
    public static PeftModel Create(nn.Module model, PeftConfig config, string adapter = DefaultAdapter)
    {
        var peft = new PeftModel(model);
        peft.AddAdapter(adapter, config);
        peft.SetAdapter(adapter);
        return peft;
    }

    /// <summary>
    /// Loads a saved adapter folder onto a base model, with the adapters its <see cref="ActiveAdaptersFile"/> names
    /// (from their subfolders), all active.
    /// </summary>
    public static PeftModel Load(nn.Module model, string adapterDir, string adapter = DefaultAdapter, bool trainable = false)
    {
        var peft = new PeftModel(model);
        var companions = peft.LoadWithCompanions(adapterDir, adapter, trainable);
        if (companions.Count == 0) peft.SetAdapter(adapter, trainable);
        else peft.SetActiveAdapters([adapter, .. companions], trainable);
        // As PEFT's from_pretrained: an adapter loaded for inference runs in eval mode, so two passes give the same bytes.
        if (!trainable) model.eval();
        return peft;
    }

    public IEnumerable<(string Path, IAdapterLayer Layer)> Layers =>
        ModuleTree.NamedModules(Model).Where(m => m.Module is IAdapterLayer).Select(m => (m.Name, (IAdapterLayer)m.Module));

    /// <summary>
    /// Adds a new adapter. A config without task_type gets the one the model's architecture implies (CAUSAL_LM for a
    /// GPT2LMHeadModel, SEQ_CLS for a BertForSequenceClassification, ...), so the saved adapter says what it is for.
    /// </summary>
    /// <param name="inferTaskType">
    /// False for an adapter that only joins another one (the biases of layer groups): without a task_type it gets no
    /// copy of a classifier head, which stays the other adapter's.
    /// </param>
    public void AddAdapter(string adapter, PeftConfig config, bool inferTaskType = true)
    {
        if (inferTaskType && Model is PretrainedModel pm) config.TaskType ??= TaskTypes.FromArchitecture(pm.ArchitectureName);
        Add(adapter, config);
    }

    /// <summary>Injects an adapter with its config as given (a loaded config is kept exactly as PEFT wrote it).</summary>
    private void Add(string adapter, PeftConfig config)
    {
        if (_configs.ContainsKey(adapter)) throw new PeftException($"adapter \"{adapter}\" already exists");
        // As PEFT: a sequence classifier's head is new, so it always trains and is saved with the adapter.
        if (config.TaskType == TaskTypes.SequenceClassification) config.ModulesToSave = (config.ModulesToSave ?? []).Union(["classifier", "score"]).ToList();
        var tuner = TunerRegistry.For(config.PeftType);
        if (Model is PretrainedModel pm) config.BaseModelNameOrPath ??= pm.Config.Raw.Source is var s && s.EndsWith("config.json", StringComparison.Ordinal) ? Path.GetDirectoryName(s) : null;
        _replacements.AddRange(tuner.Inject(Model, adapter, config));
        AddModelAdapter(adapter, tuner, config);
        AddModulesToSave(adapter, config.ModulesToSave);
        // New modules (dropouts in particular) are made in training mode; in a model that is evaluating they must
        // evaluate too, or an inference pass would drop activations at random.
        if (!Model.training) Model.eval();
        _configs[adapter] = config;
        foreach (var key in config.UnknownFields.Select(kv => kv.Key))
            _warnings.Add($"adapter \"{adapter}\": field \"{key}\" of adapter_config.json is unknown to PeftSharp (written by PEFT {config.WrittenByPeftVersion ?? "?"}); kept as is");
        ApplyTrainability();
    }

    private void AddModulesToSave(string adapter, IReadOnlyList<string>? names)
    {
        if (names is null) return;
        foreach (var (name, module) in ModuleTree.NamedModules(Model).ToList())
        {
            if (name.Length == 0 || !names.Any(n => name == n || name.EndsWith("." + n, StringComparison.Ordinal))) continue;
            if (module is ModulesToSaveWrapper existing) { existing.AddAdapter(adapter); continue; }
            if (module is IAdapterLayer || module is not nn.Module<Tensor, Tensor> m) continue;
            if (ModuleTree.NamedModules(Model).Any(o => o.Module is ModulesToSaveWrapper w && ReferenceEquals(w.BaseLayer, module))) continue;
            var wrapper = new ModulesToSaveWrapper(m, name);
            wrapper.AddAdapter(adapter);
            _replacements.Add(ModuleTree.Replace(Model, name, wrapper));
        }
    }

    /// <summary>Makes one adapter the active one (and, if trainable, the one whose parameters train).</summary>
    public void SetAdapter(string adapter, bool trainable = true)
    {
        if (!_configs.ContainsKey(adapter)) throw new PeftException($"no adapter \"{adapter}\" (have: {string.Join(", ", _configs.Keys)})");
        ActiveAdapter = adapter;
        _active = [adapter];
        SelectModelAdapterHooks([adapter]);
        foreach (var (_, layer) in Layers) layer.ActiveAdapters = layer.AdapterNames.Contains(adapter) ? [adapter] : [];
        _trainable = trainable;
        ApplyTrainability();
    }

    private bool _trainable = true;

    /// <summary>
    /// Applies several adapters at once (their updates add up); for inference, or with <paramref name="trainable"/> to
    /// train them together (a method in some layers and BitFit's biases in others).
    /// </summary>
    public void SetActiveAdapters(IReadOnlyList<string> adapters, bool trainable = false)
    {
        if (adapters.Count == 0) throw new PeftException("no adapter to activate");
        foreach (var a in adapters) if (!_configs.ContainsKey(a)) throw new PeftException($"no adapter \"{a}\"");
        foreach (var (path, layer) in Layers)
            if (!layer.CombinesAdapters && adapters.Where(layer.AdapterNames.Contains).ToList() is { Count: > 1 } both)
                throw new PeftException($"adapters {string.Join(" and ", both.Select(b => $"\"{b}\""))} each have their own copy of {path} (modules_to_save), which replaces the module rather than adding to it; activate one of them at a time");
        SelectModelAdapterHooks(adapters);
        ActiveAdapter = adapters[0];
        _active = adapters.ToList();
        foreach (var (_, layer) in Layers) layer.ActiveAdapters = adapters.Where(layer.AdapterNames.Contains).ToList();
        _trainable = trainable;
        ApplyTrainability();
    }

    /// <summary>Base frozen (except biases a config trains); only the active adapters' parameters train.</summary>
    private void ApplyTrainability()
    {
        foreach (var (_, p) in Model.named_parameters()) p.requires_grad = false;
        ApplyModelAdapterTrainability();
        if (!_trainable) return;
        foreach (var adapter in _active)
        {
            if (!_configs.TryGetValue(adapter, out var config)) continue;
            foreach (var (_, layer) in Layers)
                if (layer.AdapterNames.Contains(adapter))
                    foreach (var (_, p) in layer.AdapterParameters(adapter)) p.requires_grad = true;
            foreach (var (_, p) in TunerRegistry.For(config.PeftType).TrainedBaseParameters(Model, config)) p.requires_grad = true;
        }
    }

    /// <summary>Within the returned scope the model computes as the base alone.</summary>
    public IDisposable DisableAdapters()
    {
        var layers = Layers.Select(l => l.Layer).ToList();
        foreach (var l in layers) l.Disabled = true;
        var hooks = DisableModelAdapterHooks();
        return new Scope(() => { foreach (var l in layers) l.Disabled = false; hooks.Dispose(); });
    }

    public void DeleteAdapter(string adapter)
    {
        if (!_configs.Remove(adapter)) throw new PeftException($"no adapter \"{adapter}\"");
        _training.Remove(adapter);
        foreach (var (_, layer) in Layers) if (layer.AdapterNames.Contains(adapter)) layer.DeleteAdapter(adapter);
        RemoveModelAdapter(adapter);
        _active = _active.Where(a => a != adapter).ToList();
        if (ActiveAdapter == adapter && _configs.Count > 0) SetAdapter(_active.FirstOrDefault() ?? _configs.Keys.First(), _trainable);
    }

    public TrainableReport TrainableParameters()
    {
        var ps = Model.parameters().Concat(ModelAdapterParameters().Select(p => p.Parameter)).ToList();
        // A 4-bit base layer's weight is a buffer, not a parameter; it counts as its weights, as PEFT counts Params4bit.
        long quantized = Models.Quantization.ModelQuantizer.Layers(Model).Sum(l => l.Layer.InFeatures * l.Layer.OutFeatures);
        return new TrainableReport(ps.Where(p => p.requires_grad).Sum(p => p.numel()), ps.Sum(p => p.numel()) + quantized);
    }

    /// <summary>Parameters the optimizer should update, by their full names.</summary>
    public IEnumerable<(string Name, Parameter Parameter)> TrainableNamedParameters() =>
        Model.named_parameters().Concat(ModelAdapterParameters()).Where(p => p.Item2.requires_grad);

    /// <summary>Merges adapters (the active ones by default) into the base weights; outputs stay the same.</summary>
    public void MergeAdapter(params string[] adapters)
    {
        var names = adapters.Length == 0 ? [.. _active] : adapters;
        RefuseUnmergeable(names);
        foreach (var (_, layer) in Layers) layer.Merge(names.Where(layer.AdapterNames.Contains));
    }

    public void UnmergeAdapter()
    {
        foreach (var (_, layer) in Layers) layer.Unmerge();
    }

    /// <summary>The base model with adapters (the active ones by default) merged in and every wrapper removed.</summary>
    public nn.Module MergeAndUnload(params string[] adapters)
    {
        MergeAdapter(adapters);
        return Restore(keepTrainedCopies: true);
    }

    /// <summary>The original model back, wrappers removed and weights as they were (when nothing was merged).</summary>
    public nn.Module Unload()
    {
        UnmergeAdapter();
        return Restore(keepTrainedCopies: false);
    }

    private nn.Module Restore(bool keepTrainedCopies)
    {
        for (int i = _replacements.Count - 1; i >= 0; i--)
        {
            var r = _replacements[i];
            nn.Module? with = keepTrainedCopies && r.Module is ModulesToSaveWrapper w && w.AdapterNames.Contains(ActiveAdapter) ? w.Copy(ActiveAdapter) : null;
            r.Restore(with);
            // A trained copy now stands where a randomly initialised head was: that head is no longer untrained.
            if (with is not null && Model is PretrainedModel fresh)
                fresh.FreshParameters = fresh.FreshParameters.Where(n => !n.StartsWith(r.Name + ".", StringComparison.Ordinal)).ToList();
        }
        _replacements.Clear();
        RemoveAllModelAdapters();
        _configs.Clear();
        foreach (var (p, requiresGrad) in _originalRequiresGrad) p.requires_grad = requiresGrad;
        return Model;
    }

    /// <summary>
    /// A forward pass of one of our models; with <see cref="ModelInputs.Labels"/> the output has the loss
    /// (<see cref="ModelOutput.Loss"/>). Optionally each batch row names its adapter ("__base__" for none).
    /// </summary>
    public ModelOutput Forward(ModelInputs inputs, IReadOnlyList<string>? rowAdapters = null)
    {
        if (Model is not PretrainedModel model) throw new PeftException("Forward needs a PeftSharp model; call the module's own forward otherwise");
        if (rowAdapters is null) return model.forward(inputs);
        using var _ = WithRowAdapters(rowAdapters);
        return model.forward(inputs);
    }

    /// <summary>
    /// Until disposed, every forward pass gives batch row i adapter <paramref name="rowAdapters"/>[i] alone ("__base__":
    /// the base model), whatever is active: one base serving many adapters in one batch, for a forward pass or a whole
    /// generation (the rows stay the same through it). Each name must be a loaded adapter or "__base__"; merged adapters
    /// and adapters that act on the inputs (prompt learning) cannot be mixed per row.
    /// </summary>
    public IDisposable WithRowAdapters(IReadOnlyList<string> rowAdapters)
    {
        ArgumentNullException.ThrowIfNull(rowAdapters);
        if (rowAdapters.Count == 0) throw new PeftException("give one adapter name per batch row");
        foreach (var a in rowAdapters.Distinct())
            if (a != AdapterLayer.BaseRow && !_configs.ContainsKey(a))
                throw new PeftException($"row adapter \"{a}\" is not loaded (loaded: {string.Join(", ", _configs.Keys)}; {AdapterLayer.BaseRow} for the base model)");
        RefuseRowAdaptersWithHooks(rowAdapters);
        var layers = Layers.Select(l => l.Layer).ToList();
        if (layers.Any(l => l.MergedAdapters.Count > 0)) throw new PeftException("merged adapters are in the base weights of every row: unmerge them to give rows their own adapters");
        foreach (var l in layers) l.RowAdapters = rowAdapters;
        return new RowAdapterScope(layers);
    }

    private sealed class RowAdapterScope(List<IAdapterLayer> layers) : IDisposable
    {
        public void Dispose()
        {
            foreach (var l in layers) l.RowAdapters = null;
        }
    }

    /// <summary>
    /// Where a trainable tensor is held in lower precision while its float32 master lives elsewhere (mixed-precision
    /// training keeps it in the optimizer), the value to save for it: <see cref="AdapterStateDict"/>, and so every save,
    /// writes the master, so the files are float32 as an fp32 run writes them. Null, or null for a tensor: the tensor itself.
    /// </summary>
    public Func<Tensor, Tensor?>? SavedValueOf { get; set; }

    /// <summary>The adapter's tensors under PEFT's saved names.</summary>
    public Dictionary<string, Tensor> AdapterStateDict(string adapter)
    {
        var state = HeldStateDict(adapter);
        return SavedValueOf is not { } saved ? state
            : state.ToDictionary(kv => kv.Key, kv => saved(kv.Value) ?? kv.Value, StringComparer.Ordinal);
    }

    private Dictionary<string, Tensor> HeldStateDict(string adapter)
    {
        var config = _configs[adapter];
        var result = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (path, layer) in Layers)
            if (layer.AdapterNames.Contains(adapter))
                foreach (var (name, p) in layer.AdapterParameters(adapter))
                    result[AdapterKeys.ToSaved(path, name, adapter)] = p;
        foreach (var (name, p) in TunerRegistry.For(config.PeftType).TrainedBaseParameters(Model, config))
            result[AdapterKeys.Prefix + name] = p;
        foreach (var (_, layer) in Layers)
            if (layer is ISharedAdapterTensors shared && layer.AdapterNames.Contains(adapter))
                foreach (var (name, tensor) in shared.SharedTensors(adapter))
                    result.TryAdd("base_model." + name, tensor);
        var prefix = TunerRegistry.For(config.PeftType).SavedModulePrefix;
        if (prefix != AdapterKeys.Prefix)
            result = result.ToDictionary(kv => kv.Key.StartsWith(AdapterKeys.Prefix, StringComparison.Ordinal) ? prefix + kv.Key[AdapterKeys.Prefix.Length..] : kv.Key,
                kv => kv.Value, StringComparer.Ordinal);
        AddModelAdapterTensors(adapter, result);
        return result;
    }

    /// <summary>
    /// Writes every adapter: "default" into dir, others into dir/&lt;name&gt;, each as adapter_config.json +
    /// adapter_model.safetensors, and PEFT's model card (README.md) in dir; Python PEFT reads the others with
    /// <c>load_adapter(dir, name, subfolder=name)</c>.
    /// By default in the form for the original base model (<see cref="ITuner.ForSaving"/>); <see cref="AdapterSaveForm.AsTrained"/>
    /// writes the tensors as held, for checkpoints that are loaded back onto an adapter built the same way.
    /// </summary>
    public void Save(string dir, IEnumerable<string>? adapters = null, AdapterSaveForm form = AdapterSaveForm.Portable)
    {
        var names = (adapters ?? _configs.Keys).ToList();
        foreach (var adapter in names)
        {
            var target = AdapterFolder(dir, adapter);
            Directory.CreateDirectory(target);
            using var scope = NewDisposeScope();
            PeftConfig config = _configs[adapter];
            IReadOnlyDictionary<string, Tensor> state = AdapterStateDict(adapter);
            if (form == AdapterSaveForm.Portable) (config, state) = TunerRegistry.For(config.PeftType).ForSaving(Model, adapter, config, state);
            var tensors = state.Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach().cpu().contiguous()));
            SafetensorsWriter.Write(Path.Combine(target, WeightsFile), tensors, new Dictionary<string, string> { ["format"] = "pt" });
            AtomicFile.WriteAllText(Path.Combine(target, ConfigFile), config.ToJson());
        }
        if (names.Count > 0)
            AdapterModelCard.Write(dir, names.OrderBy(n => n == DefaultAdapter ? 0 : 1).Select(n => (n, _configs[n])).ToList());
        if (_active.Count > 1 && _active[0] == DefaultAdapter && _active.All(names.Contains))
            ActiveAdapterList.Write(Path.Combine(dir, ActiveAdaptersFile), _active);
    }

    /// <summary>Where <see cref="Save"/> puts an adapter: "default" in dir itself, any other in dir/&lt;name&gt;.</summary>
    public static string AdapterFolder(string dir, string adapter) => adapter == DefaultAdapter ? dir : Path.Combine(dir, adapter);

    /// <summary>Adds an adapter from a folder, and the adapters its <see cref="ActiveAdaptersFile"/> names from their subfolders.</summary>
    public void LoadAdapter(string dir, string adapter, bool trainable = false) => LoadWithCompanions(dir, adapter, trainable);

    /// <summary>Loads the folder's adapter and then each other one its active-adapters file names; returns their names.</summary>
    private IReadOnlyList<string> LoadWithCompanions(string dir, string adapter, bool trainable)
    {
        LoadOne(dir, adapter, trainable);
        var listed = Path.Combine(dir, ActiveAdaptersFile);
        if (!File.Exists(listed)) return [];
        var companions = ActiveAdapterList.Read(listed).Skip(1).ToList();
        foreach (var companion in companions) LoadOne(Path.Combine(dir, companion), companion, trainable);
        return companions;
    }

    /// <summary>Adds one adapter from a folder. Every key and shape is checked before any value is copied.</summary>
    private void LoadOne(string dir, string adapter, bool trainable)
    {
        AtomicFolder.Recover(dir); // a save cut between its two renames leaves the complete old folder aside
        if (!Directory.Exists(dir)) throw new PeftException($"{dir}: adapter folder not found");
        var configPath = Path.Combine(dir, ConfigFile);
        if (!File.Exists(configPath)) throw new PeftException($"{dir}: not an adapter folder (no {ConfigFile})");
        var weightsPath = Path.Combine(dir, WeightsFile);
        if (!File.Exists(weightsPath))
        {
            if (File.Exists(Path.Combine(dir, "adapter_model.bin")))
                throw new PeftException($"{dir}: adapter_model.bin is a pickle file, which can run code when loaded; PeftSharp only loads {WeightsFile} (save with safe_serialization=True)");
            throw new PeftException($"{dir}: {WeightsFile} not found");
        }
        var config = TunerRegistry.ReadConfig(configPath);
        var tuner = TunerRegistry.For(config.PeftType);
        using var file = SafetensorsFile.Open(weightsPath);

        Add(adapter, tuner.ForLoading(config));
        _configs[adapter] = config;
        try
        {
            LoadAdapterWeights(file, adapter);
        }
        catch
        {
            if (_configs.Count == 1) Restore(keepTrainedCopies: false); // nothing else here: give the model back untouched
            else DeleteAdapter(adapter);
            throw;
        }
        tuner.AfterLoading(Model, adapter, config);
        foreach (var warning in tuner.LoadingWarnings(config)) _warnings.Add($"adapter \"{adapter}\": {warning}");
        WarnOfUntrainedHead(adapter);
        _trainable = trainable;
        ApplyTrainability();
    }

    /// <summary>
    /// Overwrites an existing adapter's tensors with a saved file's (resuming a checkpoint, picking the best one), and
    /// their float32 masters where <see cref="SavedValueOf"/> has them. Every key and shape is checked before any value is copied.
    /// </summary>
    public void LoadAdapterWeights(ITensorSource file, string adapter)
    {
        var expected = HeldStateDict(adapter);
        var problems = new List<string>();
        foreach (var (key, target) in expected)
        {
            if (!file.TryGetEntry(key, out var entry)) { problems.Add($"missing {key} (module {ModuleOf(key)}, shape [{string.Join(", ", target.shape)}])"); continue; }
            if (!entry.Shape.SequenceEqual(target.shape))
                problems.Add($"{ModuleOf(key)}: {key} has shape [{string.Join(", ", entry.Shape)}] in the file but [{string.Join(", ", target.shape)}] in the model");
        }
        foreach (var key in file.Keys.Where(k => !expected.ContainsKey(k)))
            problems.Add($"unexpected {key}: no such adapter tensor in the model");
        if (problems.Count > 0)
            throw new PeftException($"{file}: adapter does not fit the model: {string.Join("; ", problems.Take(10))}{(problems.Count > 10 ? $"; ... ({problems.Count - 10} more)" : "")}");
        using (no_grad())
            foreach (var (key, target) in expected)
            {
                using var scope = NewDisposeScope();
                var loaded = file.Load(key, target.device);
                target.copy_(loaded);
                // A float32 master (mixed precision) takes the file's value as it is; the held tensor, rounded.
                SavedValueOf?.Invoke(target)?.copy_(loaded);
            }
    }

    /// <summary>The adapted module a saved key belongs to, for error messages: the longest wrapper path the key starts with.</summary>
    private string ModuleOf(string key)
    {
        var path = key.StartsWith(AdapterKeys.Prefix, StringComparison.Ordinal) ? key[AdapterKeys.Prefix.Length..] : key;
        var best = "";
        foreach (var (name, _) in Layers)
            if (name.Length > best.Length && path.StartsWith(name + ".", StringComparison.Ordinal)) best = name;
        return best.Length > 0 ? best : path;
    }

    private sealed class Scope(Action onDispose) : IDisposable
    {
        public void Dispose() => onDispose();
    }
}
