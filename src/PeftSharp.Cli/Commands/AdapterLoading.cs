using PeftSharp.Models;
using PeftSharp.Tuners;

namespace PeftSharp.Cli.Commands;

/// <summary>--adapter folders onto a model, shared by the commands that take them; warnings go to stderr.</summary>
public static class AdapterLoading
{
    /// <summary>Loads each folder as an adapter (the first named "default"), all active; null when there are none.</summary>
    public static PeftModel? Load(PretrainedModel model, IReadOnlyList<string> folders, bool merge)
    {
        if (folders.Count == 0)
        {
            if (merge) throw new PeftException("--merge needs at least one --adapter");
            return null;
        }
        var names = folders.Select((_, i) => i == 0 ? PeftModel.DefaultAdapter : $"adapter{i}").ToList();
        var peft = PeftModel.Load(model, folders[0], names[0]);
        for (int i = 1; i < folders.Count; i++) peft.LoadAdapter(folders[i], names[i]);
        // Every adapter loaded: those named and those a folder's active-adapter list brings along (layer groups' biases).
        peft.SetActiveAdapters([.. peft.Configs.Keys]);
        foreach (var w in peft.Warnings) BaseModelLoading.Warn(w);
        if (merge) peft.MergeAdapter([.. peft.Configs.Keys]);
        return peft;
    }
}
