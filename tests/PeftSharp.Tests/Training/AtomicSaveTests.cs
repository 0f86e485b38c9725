using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Tests.IO;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training;

/// <summary>
/// The real writers on top of <see cref="AtomicFolder"/>: an adapter folder (as the trainer writes its final one)
/// and a checkpoint, each replaced with a failure injected before every step. The disk as the failure left it
/// (copied at that moment: what a killed process leaves) must give the real readers, PeftModel.Load and
/// Checkpoints.List, a complete old or new version under the final name; then a later save works and cleans up.
/// </summary>
public class AtomicSaveTests
{
    private static LoraConfig Config() => LoraConfig.Read(new JsonConfig(
        new JsonObject { ["peft_type"] = "LORA", ["r"] = 2, ["lora_alpha"] = 4, ["target_modules"] = new JsonArray("q_proj", "v_proj") },
        "test adapter_config.json"));

    /// <summary>Sets every adapter weight to <paramref name="version"/>, so any loaded weight tells which save it came from.</summary>
    private static void Mark(PeftModel peft, float version)
    {
        using var _ = no_grad();
        foreach (var (_, p) in peft.TrainableNamedParameters()) p.fill_(version);
    }

    /// <summary>The version every adapter weight of <paramref name="peft"/> holds; fails on a mix.</summary>
    private static float Version(PeftModel peft)
    {
        var values = peft.TrainableNamedParameters().SelectMany(p => p.Parameter.data<float>().ToArray()).Distinct().ToList();
        Assert.Single(values);
        return values[0];
    }

    /// <summary>Replaces <paramref name="save"/>'s output with a failure before <paramref name="step"/>; returns the crash image's root.</summary>
    private static string FailAt(string step, string live, string image, Action<Action> save)
    {
        void Crash(string at)
        {
            if (at != step) return;
            FolderVersions.CopyTree(live, image);
            throw new IOException($"injected failure before {at}");
        }
        AtomicFolder.StepHook = Crash;
        try { Assert.Throws<IOException>(() => save(() => Crash("mid-fill"))); }
        finally { AtomicFolder.StepHook = null; }
        return image;
    }

    [Theory]
    [MemberData(nameof(AtomicFolderTests.StepNames), MemberType = typeof(AtomicFolderTests))]
    public void AnAdapterFolderIsAlwaysLoadableAfterAFailedSave(string step)
    {
        using var scope = NewDisposeScope();
        using var tmp = new TempDir();
        using var model = TinyModels.Create(TinyModels.Llama());
        var peft = PeftModel.Create(model, Config());
        var live = tmp.File("run");
        var adapterDir = Path.Combine(live, "adapter");
        // What Trainer.SaveAdapterAtomically does (the task file stands for peftsharp_task.json).
        void Save(Action? halfway = null) => AtomicFolder.Write(adapterDir, d => { peft.Save(d); halfway?.Invoke(); File.WriteAllText(Path.Combine(d, "peftsharp_task.json"), "{}"); }, overwrite: true);
        Mark(peft, 1);
        Save();
        Mark(peft, 2);
        var image = FailAt(step, live, tmp.File("crash"), halfway => Save(halfway));

        float expected = FolderVersions.NewAfterCrashAt(step) ? 2 : 1;
        foreach (var dir in new[] { Path.Combine(image, "adapter"), adapterDir })
        {
            using var fresh = TinyModels.Create(TinyModels.Llama());
            Assert.Equal(expected, Version(PeftModel.Load(fresh, dir, trainable: true))); // Load recovers an aside copy by itself
            Assert.True(File.Exists(Path.Combine(dir, "peftsharp_task.json")));
        }

        Mark(peft, 3);
        Save();
        using (var fresh = TinyModels.Create(TinyModels.Llama())) Assert.Equal(3, Version(PeftModel.Load(fresh, adapterDir, trainable: true)));
        Assert.Equal(["adapter"], Directory.EnumerateFileSystemEntries(live).Select(Path.GetFileName));
    }

    [Theory]
    [MemberData(nameof(AtomicFolderTests.WriteStepNames), MemberType = typeof(AtomicFolderTests))]
    public void ACheckpointIsAlwaysFoundWholeAfterAFailedRewrite(string step)
    {
        using var scope = NewDisposeScope();
        using var tmp = new TempDir();
        using var model = TinyModels.Create(TinyModels.Llama());
        var peft = PeftModel.Create(model, Config());
        using var optimizer = new AdamW(ParamGroups.Standard(model, peft.TrainableNamedParameters(), 1e-3, 0));
        var live = tmp.File("run");
        var checkpoints = new Checkpoints(live, keepLast: 2);
        // A checkpoint written again at the same step (as an interrupted run does): old and new differ in weights and state.
        Mark(peft, 1);
        checkpoints.Save(new TrainerState { Step = 4, TrainSeconds = 1 }, peft, model, optimizer, null);
        Mark(peft, 2);
        var image = FailAt(step, live, tmp.File("crash"), _ => checkpoints.Save(new TrainerState { Step = 4, TrainSeconds = 2 }, peft, model, optimizer, null));

        float expected = FolderVersions.NewAfterCrashAt(step) ? 2 : 1;
        foreach (var root in new[] { image, live })
        {
            var found = new Checkpoints(root, keepLast: 2).List(); // List recovers an aside copy by itself
            Assert.Equal([4], found.Select(c => c.Step));
            var dir = found[0].Dir;
            Assert.Equal(expected, Version(Restored(dir)));
            Assert.Equal(expected, TrainerState.Read(Path.Combine(dir, Checkpoints.StateFile)).TrainSeconds);
            using var other = new AdamW(ParamGroups.Standard(model, peft.TrainableNamedParameters(), 1e-3, 0));
            Checkpoints.RestoreOptimizer(dir, other);
        }

        var crashed = new Checkpoints(image, keepLast: 2);
        crashed.Save(new TrainerState { Step = 5 }, peft, model, optimizer, null);
        Assert.Equal(["step-4", "step-5"], Directory.EnumerateFileSystemEntries(crashed.Root).Select(Path.GetFileName).Order(StringComparer.Ordinal));
    }

    private static PeftModel Restored(string checkpointDir)
    {
        var fresh = TinyModels.Create(TinyModels.Llama());
        var peft = PeftModel.Create(fresh, Config());
        Checkpoints.RestoreWeights(checkpointDir, peft, fresh);
        return peft;
    }
}
