using PeftSharp.IO.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Copies a checkpoint into a model's parameters and buffers by name. Everything is checked before
/// anything is copied, so a mismatched checkpoint leaves the model untouched and the error lists
/// every missing key and shape mismatch at once. The one kind of missing tensor that is not an error
/// is a parameter of one of the model's <see cref="PretrainedModel.TaskHeadModules"/>: a backbone
/// checkpoint has no head, so the head is initialised (<see cref="HeadInitialiser"/>) and named in a warning.
/// </summary>
public static class WeightLoader
{
    /// <summary>Loads all weights; returns the checkpoint keys that were present but unused.</summary>
    /// <param name="newModules">Parameters the checkpoint may lack because they belong to a newly added head; they keep their initialisation.</param>
    /// <param name="warn">Receives one line naming the task-head parameters the checkpoint lacked (initialised here).</param>
    /// <param name="inPlace">Tensors already filled from this checkpoint (a 4-bit layer's codes and scales, which it stores
    /// under other keys): neither loaded nor checked here, and the keys of their names count as used.</param>
    /// <param name="afterEach">Called with each parameter or buffer name right after it is filled, once everything has been
    /// checked (<see cref="Quantization.ModelQuantizer.WhileLoading"/> quantizes a layer as soon as its last tensor arrives).</param>
    public static IReadOnlyList<string> Load(PretrainedModel model, ITensorSource checkpoint, string source, Func<string, bool>? newModules = null,
        Action<string>? warn = null, Func<string, bool>? inPlace = null, Action<string>? afterEach = null)
    {
        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        var parameters = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, p) in model.named_parameters()) { targets[name] = p; parameters.Add(name); }
        foreach (var (name, b) in model.named_buffers()) targets.TryAdd(name, b);
        foreach (var alias in model.TiedParameters.Keys) targets.Remove(alias);
        var filled = inPlace is null ? [] : targets.Keys.Where(inPlace).ToList();
        foreach (var name in filled) targets.Remove(name);

        var keys = checkpoint.Keys.ToHashSet(StringComparer.Ordinal);
        string prefix = model.BaseModelPrefix + ".";
        // A backbone checkpoint lacks the prefix a task model has, and the other way round;
        // old BERT exports call LayerNorm parameters gamma and beta.
        string KeyFor(string name)
        {
            if (keys.Contains(name)) return name;
            var candidates = new List<string> { name };
            if (model.BaseModelPrefix.Length > 0)
                candidates.Add(name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : prefix + name);
            foreach (var c in candidates.ToList())
            {
                if (c.EndsWith("LayerNorm.weight", StringComparison.Ordinal)) candidates.Add(c[..^"weight".Length] + "gamma");
                if (c.EndsWith("LayerNorm.bias", StringComparison.Ordinal)) candidates.Add(c[..^"bias".Length] + "beta");
            }
            return candidates.FirstOrDefault(keys.Contains) ?? name;
        }

        bool InTaskHead(string name) => parameters.Contains(name)
            && model.TaskHeadModules.Any(h => name.StartsWith(h + ".", StringComparison.Ordinal));

        var missing = new List<string>();
        var fresh = new HashSet<string>(StringComparer.Ordinal);
        var freshHead = new List<(string Name, Tensor Target)>();
        var mismatched = new List<string>();
        foreach (var (name, target) in targets)
        {
            var key = KeyFor(name);
            if (!keys.Contains(key))
            {
                if (newModules?.Invoke(name) == true) { fresh.Add(name); continue; }
                if (InTaskHead(name)) { fresh.Add(name); freshHead.Add((name, target)); continue; }
                missing.Add(key);
                continue;
            }
            var shape = checkpoint.GetEntry(key).Shape;
            if (!shape.SequenceEqual(target.shape))
                mismatched.Add($"{key}: checkpoint [{string.Join(", ", shape)}] vs model [{string.Join(", ", target.shape)}]");
        }
        if (missing.Count > 0 || mismatched.Count > 0)
        {
            var parts = new List<string>();
            if (missing.Count > 0) parts.Add($"missing {missing.Count} tensor(s): {Preview(missing)}");
            if (mismatched.Count > 0) parts.Add($"shape mismatch: {Preview(mismatched)}");
            throw new PeftException($"{source}: checkpoint does not fit {model.ArchitectureName}: {string.Join("; ", parts)}");
        }

        HeadInitialiser.Initialise(model, freshHead); // first: it can still refuse the config's initializer_range
        using (no_grad())
        {
            foreach (var (name, target) in targets.Where(t => !fresh.Contains(t.Key)))
            {
                using var scope = NewDisposeScope();
                var loaded = checkpoint.Load(KeyFor(name), target.device, target.dtype);
                target.copy_(loaded);
                afterEach?.Invoke(name);
            }
        }
        model.FreshParameters = targets.Keys.Where(fresh.Contains).ToList();
        if (freshHead.Count > 0) warn?.Invoke(HeadInitialiser.Warning(source, freshHead.Select(h => h.Name).ToList()));

        var used = targets.Keys.Concat(filled).Select(KeyFor).ToHashSet(StringComparer.Ordinal);
        return keys.Where(k => !used.Contains(k) && !model.IgnorableCheckpointKeys.Any(r => r.IsMatch(k))).Order().ToList();
    }

    private static string Preview(List<string> items) =>
        string.Join(", ", items.Take(8)) + (items.Count > 8 ? $", ... ({items.Count - 8} more)" : "");
}
