using PeftSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// The injection loop methods share: resolve targets (or the architecture's defaults), then for each target either
/// add the adapter to the wrapper already there or wrap the module in a new one.
/// </summary>
public static class TargetWrapping
{
    /// <summary>The targets given, else the method's default targets for the model's model_type.</summary>
    public static TargetSpec WithDefaults(nn.Module root, TargetSpec targets, MethodDescription method)
    {
        if (targets.HasTargets) return targets;
        var modelType = (root as PretrainedModel)?.Config.ModelType
            ?? throw new PeftException($"{method.Title}: target_modules is required for this model");
        if (!method.DefaultTargets.TryGetValue(modelType, out var defaults))
            throw new PeftException($"no default {method.Title} targets for model_type \"{modelType}\": give target_modules");
        return targets with { TargetList = defaults };
    }

    /// <summary>
    /// Wraps every selected module (names as selected, see <see cref="TargetSelector"/>); returns the replacements to
    /// undo later. All or nothing: if any module fails, the ones already wrapped are put back before the error goes on.
    /// </summary>
    public static List<ModuleTree.Replacement> Wrap<TLayer>(nn.Module root, IReadOnlyList<string> names,
        Func<nn.Module<Tensor, Tensor>, string, TLayer> create, Action<TLayer, string> addAdapter)
        where TLayer : nn.Module
    {
        var replacements = new List<ModuleTree.Replacement>();
        try
        {
            foreach (var name in names)
            {
                var module = ModuleTree.Get(root, name);
                if (module is TLayer existing)
                {
                    addAdapter(existing, name);
                    continue;
                }
                var layer = create((nn.Module<Tensor, Tensor>)module, name);
                addAdapter(layer, name);
                replacements.Add(ModuleTree.Replace(root, name, layer));
            }
        }
        catch
        {
            for (int i = replacements.Count - 1; i >= 0; i--) replacements[i].Restore();
            throw;
        }
        return replacements;
    }

    /// <summary>Selects the targets and wraps them.</summary>
    public static List<ModuleTree.Replacement> Wrap<TLayer>(nn.Module root, TargetSpec targets, IReadOnlyCollection<string> modulesToSave,
        Func<nn.Module, bool> canWrap, Func<nn.Module<Tensor, Tensor>, string, TLayer> create, Action<TLayer, string> addAdapter)
        where TLayer : nn.Module =>
        Wrap(root, TargetSelector.Select(root, targets, m => m is TLayer || canWrap(m), modulesToSave), create, addAdapter);
}
