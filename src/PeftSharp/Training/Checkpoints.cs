using System.Globalization;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Tuners;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Checkpoints of a run under &lt;run&gt;/checkpoints/step-N: the adapter (PEFT's files), optimizer state and
/// RNG state (optimizer.safetensors) and trainer_state.json. Each is written, replaced and pruned through
/// <see cref="AtomicFolder"/> (temporary sibling, fsync, old copy renamed aside, rename into place), and
/// <see cref="List"/> first recovers a checkpoint whose rewrite was cut between the two renames, so a run
/// killed at any moment leaves every earlier checkpoint whole and findable. Keeps the newest K and the best.
/// </summary>
public sealed class Checkpoints(string runDir, int keepLast)
{
    public const string StateFile = "trainer_state.json";
    public const string OptimizerFile = "optimizer.safetensors";
    private const string Prefix = "step-";
    /// <summary>Where the method's own training state (<see cref="IAdapterTraining.StateTensors"/>) goes in optimizer.safetensors.</summary>
    private const string MethodPrefix = "method/";

    public string Root { get; } = Path.Combine(runDir, "checkpoints");

    public string Save(TrainerState state, PeftModel? peft, nn.Module model, Optimizer optimizer, int? bestStep)
    {
        var final = Path.Combine(Root, Prefix + state.Step.ToString(CultureInfo.InvariantCulture));
        AtomicFolder.Write(final, temp =>
        {
            // As trained: a resume re-runs the adapter's initialisation (PiSSA/OLoRA rewrite the base again) and copies these tensors in.
            if (peft != null) peft.Save(Path.Combine(temp, "adapter"), form: AdapterSaveForm.AsTrained);
            else SaveFull(model, Path.Combine(temp, "model.safetensors"));
            using (var scope = NewDisposeScope())
            {
                var method = (peft?.Training?.StateTensors() ?? []).Select(kv => new KeyValuePair<string, Tensor>(MethodPrefix + kv.Key, kv.Value.detach().cpu()));
                var tensors = optimizer.StateTensors().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.detach().cpu()))
                    .Concat(method)
                    .Append(new KeyValuePair<string, Tensor>("rng/cpu", torch.get_rng_state()));
                SafetensorsWriter.Write(Path.Combine(temp, OptimizerFile), tensors,
                    new Dictionary<string, string> { ["optimizer_steps"] = optimizer.Steps.ToString(CultureInfo.InvariantCulture) });
            }
            AtomicFile.WriteAllText(Path.Combine(temp, StateFile), state.ToJson());
        }, overwrite: true);
        Prune(bestStep);
        return final;
    }

    private static void SaveFull(nn.Module model, string path)
    {
        using var scope = NewDisposeScope();
        SafetensorsWriter.Write(path, model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter.detach().cpu())));
    }

    /// <summary>
    /// Complete checkpoints, oldest first. A rewrite cut between its two renames is recovered first; an
    /// interrupted write leaves only a hidden temporary folder, which is ignored (and removed by the next save).
    /// </summary>
    public IReadOnlyList<(int Step, string Dir)> List()
    {
        if (!Directory.Exists(Root)) return [];
        AtomicFolder.RecoverAll(Root);
        return Directory.EnumerateDirectories(Root, Prefix + "*")
            .Select(d => (Ok: int.TryParse(Path.GetFileName(d)[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var s), Step: s, Dir: d))
            .Where(x => x.Ok && File.Exists(Path.Combine(x.Dir, StateFile)))
            .OrderBy(x => x.Step).Select(x => (x.Step, x.Dir)).ToList();
    }

    public string? Latest() => List().LastOrDefault().Dir;

    private void Prune(int? bestStep)
    {
        var all = List();
        foreach (var (step, dir) in all.Take(Math.Max(0, all.Count - Math.Max(1, keepLast))))
            if (step != bestStep) AtomicFolder.Delete(dir);
        AtomicFolder.RemoveLeftovers(Root);
        // Temporary folders named by PeftSharp versions before AtomicFolder was used here.
        foreach (var temp in Directory.EnumerateDirectories(Root, ".tmp-*")) Directory.Delete(temp, recursive: true);
    }

    /// <summary>Puts a checkpoint's trained weights back: the adapter's, or every parameter for full fine-tuning.</summary>
    public static void RestoreWeights(string checkpointDir, PeftModel? peft, nn.Module model)
    {
        if (peft != null)
        {
            // Every adapter of the run: layer groups train a second one (the biases) in its subfolder.
            foreach (var name in peft.Configs.Keys)
            {
                using var adapter = SafetensorsFile.Open(Path.Combine(PeftModel.AdapterFolder(Path.Combine(checkpointDir, "adapter"), name), PeftModel.WeightsFile));
                peft.LoadAdapterWeights(adapter, name);
            }
            RestoreMethodState(checkpointDir, peft);
            return;
        }
        using var file = SafetensorsFile.Open(Path.Combine(checkpointDir, "model.safetensors"));
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
        {
            using var t = file.Load(name, p.device, p.dtype);
            p.copy_(t);
        }
    }

    /// <summary>The method's training state as of the checkpoint (AdaLoRA's averages and rank pattern), with the weights it belongs to.</summary>
    private static void RestoreMethodState(string checkpointDir, PeftModel peft)
    {
        if (peft.Training is not { } method) return;
        using var scope = NewDisposeScope();
        using var file = SafetensorsFile.Open(Path.Combine(checkpointDir, OptimizerFile));
        method.LoadState(file.Keys.Where(k => k.StartsWith(MethodPrefix, StringComparison.Ordinal))
            .ToDictionary(k => k[MethodPrefix.Length..], k => file.Load(k), StringComparer.Ordinal));
    }

    /// <summary>Restores optimizer and RNG state from a checkpoint folder.</summary>
    public static void RestoreOptimizer(string checkpointDir, Optimizer optimizer)
    {
        using var file = SafetensorsFile.Open(Path.Combine(checkpointDir, OptimizerFile));
        var steps = long.Parse(file.Metadata.TryGetValue("optimizer_steps", out var s) ? s : "0", CultureInfo.InvariantCulture);
        optimizer.LoadState(file, steps);
        using var rng = file.Load("rng/cpu");
        torch.set_rng_state(rng);
    }
}
