using PeftSharp.Models;

namespace PeftSharp.Tuners;

/// <summary>
/// The check that an adapter replaces a head its base model had to initialise randomly (a backbone checkpoint
/// under a task config, see <see cref="PretrainedModel.FreshParameters"/>): PEFT's modules_to_save copy of the head
/// does; if the adapter has none, its outputs come from random weights, which must not pass silently.
/// </summary>
public sealed partial class PeftModel
{
    private void WarnOfUntrainedHead(string adapter)
    {
        if (Model is not PretrainedModel model || model.FreshParameters.Count == 0) return;
        // A wrapper sits at its original module's path, so that path is a prefix of the head's parameter names.
        var saved = Layers.Where(l => l.Layer is ModulesToSaveWrapper && l.Layer.AdapterNames.Contains(adapter)).Select(l => l.Path + ".").ToList();
        var untrained = model.FreshParameters.Where(n => !saved.Any(p => n.StartsWith(p, StringComparison.Ordinal))).ToList();
        if (untrained.Count == 0) return;
        bool one = untrained.Count == 1;
        _warnings.Add($"adapter \"{adapter}\": {string.Join(", ", untrained)} of the base model {(one ? "was" : "were")} initialised randomly " +
            $"(not in its checkpoint) and the adapter does not save {(one ? "it" : "them")} (modules_to_save): predictions come from an untrained head");
    }
}
