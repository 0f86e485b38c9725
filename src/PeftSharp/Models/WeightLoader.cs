using PeftSharp.IO.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Copies a checkpoint into a model's parameters and buffers by name. Everything is checked before
/// anything is copied, so a mismatched checkpoint leaves the model untouched and the error lists
/// every missing key and shape mismatch at once.
/// </summary>
public static class WeightLoader
{
    /// <summary>Loads all weights; returns the checkpoint keys that were present but unused.</summary>
    /// <param name="newModules">Parameters the checkpoint may lack because they belong to a newly added head; they keep their initialisation.</param>
    public static IReadOnlyList<string> Load(PretrainedModel model, ITensorSource checkpoint, string source, Func<string, bool>? newModules = null)
    {
        var targets = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        foreach (var (name, p) in model.named_parameters()) targets[name] = p;
        foreach (var (name, b) in model.named_buffers()) targets.TryAdd(name, b);
        foreach (var alias in model.TiedParameters.Keys) targets.Remove(alias);

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

        var missing = new List<string>();
        var fresh = new HashSet<string>(StringComparer.Ordinal);
        var mismatched = new List<string>();
        foreach (var (name, target) in targets)
        {
            var key = KeyFor(name);
            if (!keys.Contains(key))
            {
                if (newModules?.Invoke(name) == true) { fresh.Add(name); continue; }
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

        using (no_grad())
        {
            foreach (var (name, target) in targets.Where(t => !fresh.Contains(t.Key)))
            {
                using var scope = NewDisposeScope();
                var loaded = checkpoint.Load(KeyFor(name), target.device, target.dtype);
                target.copy_(loaded);
            }
        }

        var used = targets.Keys.Select(KeyFor).ToHashSet(StringComparer.Ordinal);
        return keys.Where(k => !used.Contains(k) && !model.IgnorableCheckpointKeys.Any(r => r.IsMatch(k))).Order().ToList();
    }

    private static string Preview(List<string> items) =>
        string.Join(", ", items.Take(8)) + (items.Count > 8 ? $", ... ({items.Count - 8} more)" : "");
}
