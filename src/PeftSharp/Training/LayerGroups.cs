using System.Globalization;
using PeftSharp.Models;
using PeftSharp.Tuners;

namespace PeftSharp.Training;

/// <summary>What a layer group trains.</summary>
public enum LayerGroupKind
{
    /// <summary>Nothing in these layers trains.</summary>
    Frozen,
    /// <summary>Only the bias terms (BitFit restricted to these layers).</summary>
    Bias,
    /// <summary>The run's method (layers_to_transform) and, as SPAFIT's top group, the biases.</summary>
    Adapter,
}

/// <summary>One range of layers of the transformer stack, both ends included.</summary>
public sealed record LayerGroup(int First, int Last, LayerGroupKind Kind)
{
    public string Range => First == Last ? First.ToString(CultureInfo.InvariantCulture) : $"{First.ToString(CultureInfo.InvariantCulture)}-{Last.ToString(CultureInfo.InvariantCulture)}";
    public override string ToString() => $"{Range}:{LayerGroups.KindName(Kind)}";
}

/// <summary>
/// The layer_groups option: the transformer stack split into ranges that are frozen, train their biases only, or carry
/// the run's method with their biases, as SPAFIT (Arora and Wang 2024) stratifies a model, given by hand
/// ("0-1:frozen,2-3:bias,4-5:adapter"). Every layer is in exactly one group; layers outside the stack (embeddings, the
/// task head) follow the usual rules. The method's adapter is the run's usual one with layers_to_transform (PEFT's files);
/// the biases are a second adapter of the registry's BitFit, <see cref="BiasAdapter"/>, saved in its subfolder and active
/// together with the first (<see cref="PeftModel.ActiveAdaptersFile"/>). PEFT has no format for the groups themselves.
/// </summary>
public sealed class LayerGroups
{
    /// <summary>The name of the adapter holding the groups' biases, and of its subfolder in a saved adapter.</summary>
    public const string BiasAdapter = "biases";
    /// <summary>The registry's name of the method that trains biases only.</summary>
    private const string BiasMethod = "bitfit";
    private const string Key = "layer_groups";
    /// <summary>The value that has a training run place the groups by the analysis (<see cref="Analysis.AutoLayerGroups"/>).</summary>
    public const string Auto = "auto";

    private LayerGroups(IReadOnlyList<LayerGroup> groups) => Groups = groups;

    /// <summary>The groups in layer order.</summary>
    public IReadOnlyList<LayerGroup> Groups { get; }

    public static string KindName(LayerGroupKind kind) => kind switch
    {
        LayerGroupKind.Frozen => "frozen",
        LayerGroupKind.Bias => "bias",
        _ => "adapter",
    };

    /// <summary>The layers of the groups of one kind, in order.</summary>
    public IReadOnlyList<int> Layers(LayerGroupKind kind) =>
        Groups.Where(g => g.Kind == kind).SelectMany(g => Enumerable.Range(g.First, g.Last - g.First + 1)).Order().ToList();

    public static bool IsAuto(string? text) => text?.Trim() == Auto;

    /// <summary>The groups that give layer i the kind kinds[i], consecutive layers of one kind in one range.</summary>
    public static LayerGroups FromKinds(IReadOnlyList<LayerGroupKind> kinds)
    {
        var groups = new List<LayerGroup>();
        for (int i = 0; i < kinds.Count; i++)
            if (groups.Count > 0 && groups[^1].Kind == kinds[i]) groups[^1] = groups[^1] with { Last = i };
            else groups.Add(new LayerGroup(i, i, kinds[i]));
        return groups.Any(g => g.Kind == LayerGroupKind.Adapter) ? new LayerGroups(groups) : throw Error("no layer is in an adapter group");
    }

    /// <summary>"0-1:frozen,2-3:bias,4-5:adapter", as <see cref="Parse"/> reads it.</summary>
    public override string ToString() => string.Join(",", Groups);

    /// <summary>The groups of an option value; null when it is unset. A value that is not a list of contiguous ranges from 0 throws.</summary>
    public static LayerGroups? Parse(string? text)
    {
        if (text is null) return null;
        if (IsAuto(text)) throw Error("auto is resolved by a training run from the analysis (TrainingRun), not here");
        var groups = new List<LayerGroup>();
        foreach (var raw in text.Split(','))
        {
            var item = raw.Trim();
            if (item.Length == 0) throw Error($"\"{text}\" has an empty group; write from-to:kind, comma-separated (e.g. 0-1:frozen,2-3:bias,4-5:adapter)");
            int colon = item.IndexOf(':');
            if (colon < 0) throw Error($"\"{item}\" is not from-to:kind (e.g. 2-3:bias)");
            var kind = item[(colon + 1)..].Trim() switch
            {
                "frozen" => LayerGroupKind.Frozen,
                "bias" => LayerGroupKind.Bias,
                "adapter" => LayerGroupKind.Adapter,
                var other => throw Error($"\"{item}\": unknown group kind \"{other}\"; expected frozen, bias or adapter"),
            };
            var range = item[..colon].Trim();
            var ends = range.Split('-');
            if (ends.Length > 2 || !ends.All(e => int.TryParse(e.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out _)))
                throw Error($"\"{item}\": \"{range}\" is not a layer range (from-to, e.g. 2-3, or one layer, e.g. 4)");
            int first = int.Parse(ends[0].Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
            int last = int.Parse(ends[^1].Trim(), NumberStyles.None, CultureInfo.InvariantCulture);
            if (last < first) throw Error($"\"{item}\": the range runs backwards ({first} > {last})");
            groups.Add(new LayerGroup(first, last, kind));
        }
        var sorted = groups.OrderBy(g => g.First).ThenBy(g => g.Last).ToList();
        for (int i = 1; i < sorted.Count; i++)
            if (sorted[i].First <= sorted[i - 1].Last)
                throw Error($"layer {sorted[i].First} is in two groups ({sorted[i - 1]} and {sorted[i]}); every layer must be in exactly one group");
        int next = 0;
        foreach (var g in sorted)
        {
            if (g.First > next) throw Error($"{Span(next, g.First - 1)} in no group; every layer must be in exactly one group");
            next = g.Last + 1;
        }
        if (!sorted.Any(g => g.Kind == LayerGroupKind.Adapter))
            throw Error($"\"{text}\" has no adapter group; at least one range must be adapter (the method goes there)");
        return new LayerGroups(sorted);
    }

    /// <summary>What is wrong with the option in these options, for the config check (every problem, one line each).</summary>
    public static IEnumerable<string> Problems(TrainingOptions o)
    {
        if (o.LayerGroups is null) return [];
        try
        {
            if (!IsAuto(o.LayerGroups)) Parse(o.LayerGroups);
        }
        catch (PeftException e)
        {
            return [e.Message];
        }
        if (IsAuto(o.LayerGroups) && Analysis.AutoTargets.IsAuto(o.TargetModules))
            return [$"{Key} auto and target_modules auto each spend the analysis on their own (layers, or modules within a budget); give one of them"];
        if (TrainingMethods.IsBaseline(o.Method))
            return [$"{Key} splits the layers between biases and an adapter method, and method {o.Method} is a baseline; choose a method such as lora"];
        if (o.Method == BiasMethod)
            return [$"{Key}: the bias groups are BitFit already; choose a method such as lora for the adapter groups"];
        if (TunerRegistry.Named(o.Method) is { } tuner && !tuner.Description.Uses.HasFlag(SharedInputs.Targets))
            return [$"{Key} needs a method that wraps target modules layer by layer (layers_to_transform), and {tuner.Description.Title} does not"];
        if (o.FromAdapter != null)
            return [$"{Key} sets up a new adapter, and from_adapter continues one whose layers are fixed already; give one of them"];
        return [];
    }

    /// <summary>The report's line: "layers 0-1 frozen; 2-3 biases only (BitFit); 4-5 LoRA and biases".</summary>
    public string Describe(string methodTitle) =>
        "layers " + string.Join("; ", Groups.Select(g => g.Range + " " + g.Kind switch
        {
            LayerGroupKind.Frozen => "frozen",
            LayerGroupKind.Bias => "biases only (BitFit)",
            _ => $"{methodTitle} and biases",
        }));

    /// <summary>The number of layers of the model's transformer stack: one more than the highest layer index of its modules.</summary>
    public static int CountLayers(PretrainedModel model)
    {
        var indices = ModuleTree.NamedModules(model).Select(m => TargetSelector.LayerIndex(m.Name + ".")).OfType<int>().ToList();
        return indices.Count == 0
            ? throw Error($"this {model.Config.ModelType} model has no stack of numbered layers (named {string.Join(", ", TargetSelector.CommonLayerPatterns.Select(p => p + ".N"))})")
            : indices.Max() + 1;
    }

    /// <summary>Throws unless the groups cover exactly the model's layers.</summary>
    public void CheckCovers(int layerCount)
    {
        var last = Groups[^1];
        if (last.Last >= layerCount)
            throw Error($"the model has {layerCount} layers ({Span(0, layerCount - 1, bare: true)}), but {last} reaches layer {last.Last}");
        if (last.Last < layerCount - 1)
            throw Error($"{Span(last.Last + 1, layerCount - 1)} in no group (the model has {layerCount} layers, {Span(0, layerCount - 1, bare: true)}); every layer must be in exactly one group");
    }

    /// <summary>
    /// Makes the model trainable as the groups say: the method's adapter (built by <paramref name="tuner"/> from
    /// <paramref name="settings"/>) in the adapter layers only, then BitFit's copies of the biases of the bias and adapter
    /// layers as a second adapter, both active and training.
    /// </summary>
    public PeftModel Adapt(PretrainedModel model, ITuner tuner, MethodSettings settings)
    {
        CheckCovers(CountLayers(model));
        var adapterLayers = Layers(LayerGroupKind.Adapter);
        var biasLayers = Layers(LayerGroupKind.Bias).Concat(adapterLayers).Order().ToList();
        bool hasBiases = model.named_parameters().Any(p => p.name.EndsWith(".bias", StringComparison.Ordinal)
            && TargetSelector.LayerIndex(p.name) is { } i && biasLayers.Contains(i));
        if (!hasBiases && Layers(LayerGroupKind.Bias).Count > 0)
            throw Error($"bias groups train bias terms, and this {model.Config.ModelType} model has none in its layers");

        PeftConfig config;
        try
        {
            config = tuner.CreateConfig(settings with { Targets = settings.Targets with { LayersToTransform = adapterLayers } });
        }
        catch (PeftException e)
        {
            throw Error($"the adapter groups put {tuner.Description.Title} into some layers only (layers_to_transform), which it cannot do: {e.Message}");
        }
        var peft = PeftModel.Create(model, config);
        if (peft.ModelAdapters.Count > 0)
            throw Error($"{tuner.Description.Title} acts on the model's inputs rather than in layers; choose a method that wraps target modules");
        foreach (var (path, _) in peft.Layers)
            if (TargetSelector.LayerIndex(path + ".") is { } i && !adapterLayers.Contains(i))
                throw Error($"{tuner.Description.Title} put its adapter into {path}, outside the adapter groups: it does not honour layers_to_transform");
        if (!hasBiases) return peft; // no bias in these layers (Llama): the adapter groups carry the method alone

        var bitfit = TunerRegistry.Named(BiasMethod) ?? throw new InvalidOperationException($"no method \"{BiasMethod}\" in the registry");
        var biases = bitfit.CreateConfig(new MethodSettings { Targets = new TargetSpec { LayersToTransform = biasLayers }, BaseModel = settings.BaseModel });
        peft.AddAdapter(BiasAdapter, biases, inferTaskType: false);
        peft.SetActiveAdapters([PeftModel.DefaultAdapter, BiasAdapter], trainable: true);
        return peft;
    }

    private static string Span(int first, int last, bool bare = false) =>
        first == last ? $"{(bare ? "" : "layer ")}{first}{(bare ? "" : " is")}" : $"{(bare ? "" : "layers ")}{first}-{last}{(bare ? "" : " are")}";

    private static PeftException Error(string message) => new($"{Key}: {message}");
}
