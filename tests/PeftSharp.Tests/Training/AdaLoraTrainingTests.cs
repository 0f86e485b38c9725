using System.Text.Json.Nodes;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Options;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.AdaLora;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training;

/// <summary>
/// <c>peft train --method adalora</c> through the real trainer: total_step defaults to the run's optimizer steps (with
/// gradient accumulation, steps are optimizer steps), the adapter ends with PEFT's rank_pattern at the target budget and
/// tensors cut to it, and reloads; a run interrupted in the middle of the budget phase and resumed writes the same
/// adapter bytes as an uninterrupted one (the allocator's averages and rank pattern travel in the checkpoint).
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class AdaLoraTrainingTests : IDisposable
{
    private readonly TinyTrainingRun _run = new(48);

    public void Dispose() => _run.Dispose();

    private TrainingOptions Options(string name) => _run.Options(name) with
    {
        Method = AdaLoraOptions.Method, MaxSteps = 8, SaveEvery = 2, EvalEvery = 3, KeepLast = 5, GradientAccumulation = 2, LearningRate = 1e-2,
        MethodOptions = OptionValues.Empty.With(AdaLoraOptions.InitR.Key, 4).With(AdaLoraOptions.TargetR.Key, 2)
            .With(AdaLoraOptions.Tinit.Key, 1).With(AdaLoraOptions.Tfinal.Key, 2),
    };

    private sealed class CancelAt(int step, CancellationTokenSource cancel) : ITrainerObserver
    {
        public void OnStep(StepRecord s) { if (s.Step == step) cancel.Cancel(); }
    }

    [Fact]
    public void TrainsToTheTargetBudgetAndSavesPeftsCutAdapter()
    {
        var summary = TrainingSession.Run(Options("straight"));
        Assert.Equal(8, summary.Steps);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(summary.AdapterDir, PeftModel.ConfigFile)))!;
        Assert.Equal("ADALORA", config["peft_type"]!.GetValue<string>());
        Assert.Equal(8, config["total_step"]!.GetValue<int>());
        Assert.Equal(4, config["init_r"]!.GetValue<int>());
        var pattern = config["rank_pattern"]!.AsObject();
        Assert.Equal(4, pattern.Count); // query and value of 2 layers
        int kept = pattern.Sum(kv => kv.Value!.AsArray().Count(b => b!.GetValue<bool>()));
        Assert.Equal(2 * pattern.Count, kept);
        using (var file = SafetensorsFile.Open(Path.Combine(summary.AdapterDir, PeftModel.WeightsFile)))
            foreach (var (key, mask) in pattern)
            {
                long rank = mask!.AsArray().Count(b => b!.GetValue<bool>());
                var module = AdapterKeysOf(key);
                Assert.Equal(rank, file.GetEntry(module + ".lora_A").Shape[0]);
                Assert.Equal(rank, file.GetEntry(module + ".lora_E").Shape[0]);
                Assert.Equal(rank, file.GetEntry(module + ".lora_B").Shape[1]);
            }
        using var model = AutoModel.ForSequenceClassification(_run.ModelDir, 2);
        var peft = PeftModel.Load(model, summary.AdapterDir);
        Assert.Equal(kept, peft.Layers.Where(l => l.Layer is AdaLoraLayer).Sum(l => l.Layer.AdapterParameters(PeftModel.DefaultAdapter).Single(p => p.Name.StartsWith("lora_E", StringComparison.Ordinal)).Parameter.shape[0]));
    }

    private static string AdapterKeysOf(string patternKey) => AdapterKeys.Prefix + patternKey[..^".lora_E".Length];

    [Theory]
    [InlineData(3)] // in the budget phase: the averages must come back
    [InlineData(7)] // right after the final allocation (step 8 - tfinal): the fixed rank pattern must come back
    public void AnInterruptedRunResumesToTheSameAdapterBytes(int at)
    {
        var straight = TrainingSession.Run(Options("straight"));
        var o = Options("interrupted");
        using var cancel = new CancellationTokenSource();
        var stopped = TrainingSession.Run(o, new CancelAt(at, cancel), cancel.Token);
        Assert.True(stopped.Interrupted);
        using (var state = SafetensorsFile.Open(Path.Combine(stopped.Checkpoint!, Checkpoints.OptimizerFile)))
        {
            Assert.Contains(state.Keys, k => k.StartsWith("method/rank_pattern/", StringComparison.Ordinal));
            Assert.Equal(at < 7, state.Keys.Any(k => k.StartsWith("method/exp_avg_ipt/", StringComparison.Ordinal)));
        }
        var resumed = TrainingSession.Run(o with { Resume = true });
        Assert.Equal(8, resumed.Steps);
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight.AdapterDir, PeftModel.WeightsFile)), File.ReadAllBytes(Path.Combine(resumed.AdapterDir, PeftModel.WeightsFile)));
        Assert.Equal(File.ReadAllText(Path.Combine(straight.AdapterDir, PeftModel.ConfigFile)), File.ReadAllText(Path.Combine(resumed.AdapterDir, PeftModel.ConfigFile)));
        // The allocator's state too, at every later checkpoint (masks alone may not show a lost average).
        int compared = 0;
        foreach (var step in new[] { 4, 6, 8 }.Where(s => s > at))
        {
            var name = Path.Combine("checkpoints", $"step-{step}", Checkpoints.OptimizerFile);
            using var x = SafetensorsFile.Open(Path.Combine(straight.OutputDir, name));
            using var y = SafetensorsFile.Open(Path.Combine(resumed.OutputDir, name));
            var keys = x.Keys.Where(k => k.StartsWith("method/", StringComparison.Ordinal)).Order().ToList();
            Assert.Equal(keys, y.Keys.Where(k => k.StartsWith("method/", StringComparison.Ordinal)).Order().ToList());
            foreach (var key in keys)
            {
                using var scope = NewDisposeScope();
                Assert.True(x.Load(key).equal(y.Load(key)).all().item<bool>(), $"checkpoint step {step}: {key} differs");
                compared++;
            }
        }
        Assert.True(compared > 0);
    }
}
