using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.AdaLora;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// Replays every AdaLoRA training trace Python PEFT 0.18.1 wrote (fixtures/&lt;model&gt;/adapters/adalora_trace*/, recipe in
/// the fixtures' MANIFEST.md): from init/, per step the loss with its orthogonal regulariser, gradients, SGD update,
/// update_and_allocate's budget, threshold, scores, masks and zeroed singular values, and the allocator's averages;
/// then the saved adapter against final/ (rank_pattern, tensors cut to the kept ranks) and its outputs against PEFT's.
/// Through the pieces the trainer uses (TrainingStep, Sgd, PeftModel.Training), in PEFT's call order.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class AdaLoraTraceTests(Xunit.Abstractions.ITestOutputHelper output)
{
    private const double Tight = 1e-5;

    /// <summary>(model, trace folder relative to its adapters/) for every folder with a trace/steps.json.</summary>
    public static TheoryData<string, string> Traces()
    {
        var data = new TheoryData<string, string>();
        foreach (var modelDir in Directory.EnumerateDirectories(Fixtures.Root).Order(StringComparer.Ordinal))
        {
            var adapters = Path.Combine(modelDir, "adapters");
            if (!Directory.Exists(adapters)) continue;
            foreach (var dir in Directory.EnumerateDirectories(adapters, "adalora_trace*").Order(StringComparer.Ordinal))
                if (File.Exists(Path.Combine(dir, "trace", "steps.json"))) data.Add(Path.GetFileName(modelDir), Path.GetFileName(dir));
        }
        return data;
    }

    [Fact]
    public void ThereIsATraceToReplay() => Assert.NotEmpty(Traces());

    /// <summary>max |ours - ref| / max |ref| (the tensor's own scale: the averages are ~1e-7, gradients ~1e-2).</summary>
    private static double Relative(Tensor ours, Tensor reference)
    {
        Assert.Equal(reference.shape, ours.shape);
        using var scope = NewDisposeScope();
        var o = ours.detach().to(ScalarType.Float64).cpu();
        var r = reference.to(ScalarType.Float64).cpu();
        if (r.numel() == 0) return 0;
        double scale = Math.Max(r.abs().max().item<double>(), 1e-30);
        return o.sub(r).abs().max().item<double>() / scale;
    }

    private static double Rel(double ours, double reference) => Math.Abs(ours - reference) / Math.Max(Math.Abs(reference), 1e-30);

    private static int[] Ints(JsonNode? node) => node!.AsArray().Select(n => n!.GetValue<int>()).ToArray();

    [Theory]
    [MemberData(nameof(Traces))]
    public void ReplaysEveryStepAndSavesPeftsFinalAdapter(string model, string trace)
    {
        using var scope = NewDisposeScope();
        var dir = Path.Combine(Fixtures.Model(model), "adapters", trace);
        var steps = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "trace", "steps.json")))!;
        var batches = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "trace", "batches.json")))!["batches"]!.AsArray();
        var moduleNames = steps["modules"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        using var tensors = SafetensorsFile.Open(Path.Combine(dir, "trace", "tensors.safetensors"));
        double lr = 0.05; // the recipe's plain SGD
        Assert.Contains("lr=0.05", steps["recipe"]!["optimizer"]!.GetValue<string>());

        using var baseModel = AutoModel.FromPretrained(Fixtures.Model(model));
        var peft = PeftModel.Load(baseModel, Path.Combine(dir, "init"), trainable: true);
        baseModel.train();
        var training = Assert.IsType<AdaLoraTraining>(peft.Training);
        var config = (AdaLoraConfig)peft.Configs[PeftModel.DefaultAdapter];
        training.Begin(batches.Count);
        Assert.Equal(steps["init_bgt"]!.GetValue<int>(), training.Allocator.InitBudget);
        Assert.Equal(steps["target_bgt"]!.GetValue<int>(), training.Allocator.TargetBudget);
        Assert.Equal(moduleNames, training.Allocator.Modules.Select(m => m.Module).ToList());

        var trainable = peft.TrainableNamedParameters().ToList();
        using var optimizer = new Sgd(ParamGroups.Standard(baseModel, trainable, lr, 0), momentum: 0);
        var worst = new Dictionary<string, double>();
        void Track(string what, double err, string where)
        {
            worst[what] = Math.Max(worst.GetValueOrDefault(what), err);
            Assert.True(err < Tight, $"{where}: {what} relative error {err:E3}");
        }
        Dictionary<string, Tensor> lastAverages = new();
        foreach (var record in steps["steps"]!.AsArray())
        {
            using var stepScope = NewDisposeScope();
            int step = record!["step"]!.GetValue<int>();
            var b = batches[step]!;
            long[,] Grid(string key)
            {
                var rows = b[key]!.AsArray();
                var grid = new long[rows.Count, rows[0]!.AsArray().Count];
                for (int i = 0; i < rows.Count; i++) for (int j = 0; j < grid.GetLength(1); j++) grid[i, j] = rows[i]![j]!.GetValue<long>();
                return grid;
            }
            var batch = new BatchTensors(new ModelInputs { InputIds = tensor(Grid("input_ids")), AttentionMask = tensor(Grid("attention_mask")) }, tensor(Grid("labels")));
            string at = $"{model}/{trace} step {step}";

            double task = TrainingStep.ForwardBackward(baseModel, TaskKind.CausalLm, batch, 1.0);
            var extra = training.ExtraLoss()!;
            extra.backward();
            double reg = extra.item<float>();
            Track("loss without orth reg", Rel(task, record["loss_without_orth_reg"]!.GetValue<double>()), at);
            Track("orth reg", Rel(reg / config.OrthRegWeight, record["orth_reg"]!.GetValue<double>()), at);
            Track("loss", Rel(task + reg, record["loss"]!.GetValue<double>()), at);
            foreach (var m in training.Allocator.Modules)
                foreach (var (part, p) in new[] { ("lora_A", m.A), ("lora_B", m.B), ("lora_E", m.E) })
                    Track("gradient", Relative(p.grad!, tensors.Load($"step{step}.{m.Module}.{part}.grad")), $"{at} {m.Module}.{part}");

            optimizer.Step();
            foreach (var m in training.Allocator.Modules)
                foreach (var (part, p) in new[] { ("lora_A", m.A), ("lora_B", m.B), ("lora_E", m.E) })
                    Track("after SGD", Relative(p, tensors.Load($"step{step}.{m.Module}.{part}.after_sgd")), $"{at} {m.Module}.{part}");

            training.AfterOptimizerStep(step);
            var last = training.Last!.Value;
            Assert.Equal(step, last.Step);
            Assert.Equal(record["budget_schedule"]!["budget"]!.GetValue<int>(), last.Budget);
            Assert.Equal(record["budget_schedule"]!["mask_ind"]!.GetValue<bool>(), last.Mask);

            // The averages as this step used them (the final allocation uses the last update's, then drops them).
            var averages = training.Allocator.AverageSensitivity.Count > 0
                ? training.Allocator.AverageSensitivity.Select(kv => ("exp_avg_ipt", kv.Key, kv.Value))
                    .Concat(training.Allocator.AverageUncertainty.Select(kv => ("exp_avg_unc", kv.Key, kv.Value)))
                    .ToDictionary(x => $"{x.Key.Replace(".default", "")}.{x.Item1}", x => x.Value.clone().MoveToOuterDisposeScope())
                : lastAverages;
            foreach (var (key, value) in averages)
                if (tensors.Contains($"step{step}.{key}")) Track("allocator average", Relative(value, tensors.Load($"step{step}.{key}")), $"{at} {key}");
            if (step <= 8) Assert.True(averages.Keys.All(k => tensors.Contains($"step{step}.{k}")) && averages.Count == 6 * moduleNames.Count, $"{at}: averages");
            lastAverages = averages;

            var expected = record["mask_to_budget"];
            if (expected is null) Assert.Null(last.Masked);
            else
            {
                var masked = last.Masked!;
                Assert.Equal(expected["budget"]!.GetValue<int>(), masked.Budget);
                Assert.Equal(expected["k"]!.GetValue<int>(), masked.K);
                Track("threshold", Rel(masked.Threshold, expected["threshold"]!.GetValue<double>()), at);
                foreach (var name in moduleNames)
                {
                    var want = expected["scores"]![name]!.AsArray().Select(n => n!.GetValue<double>()).ToArray();
                    double scale = want.Max(Math.Abs);
                    Track("score", want.Select((w, i) => Math.Abs(masked.Scores[name][i] - w) / scale).Max(), $"{at} {name}");
                    Assert.Equal(Ints(expected["masked_ranks"]![name]), Enumerable.Range(0, want.Length).Where(i => !masked.Kept[name][i]).ToArray());
                }
                Assert.Equal(expected["n_masked"]!.GetValue<int>(), masked.Kept.Values.Sum(k => k.Count(x => !x)));
            }
            foreach (var m in training.Allocator.Modules)
            {
                var e = m.E.detach().reshape(-1).data<float>().ToArray();
                Assert.Equal(Ints(record["E_zero_after_step"]![m.Module]), Enumerable.Range(0, e.Length).Where(i => e[i] == 0).ToArray());
                Assert.Equal(record["ranks_nonzero_after_step"]![m.Module]!.GetValue<int>(), e.Count(x => x != 0));
                Track("E after allocate", Relative(m.E, tensors.Load($"step{step}.{m.Module}.lora_E.after_allocate")), $"{at} {m.Module}");
            }
            optimizer.ZeroGrad();
        }

        // The saved adapter: PEFT's final/ config (rank_pattern exactly) and tensors cut to the kept ranks.
        var saved = Directory.CreateTempSubdirectory("peft-adalora-trace-").FullName;
        try
        {
            peft.Save(saved);
            var ours = JsonNode.Parse(File.ReadAllText(Path.Combine(saved, PeftModel.ConfigFile)))!.AsObject();
            var theirs = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "final", PeftModel.ConfigFile)))!.AsObject();
            Assert.True(JsonNode.DeepEquals(theirs["rank_pattern"], ours["rank_pattern"]), $"rank_pattern: {ours["rank_pattern"]?.ToJsonString()}");
            foreach (var key in new[] { "init_r", "target_r", "tinit", "tfinal", "deltaT", "total_step", "beta1", "beta2", "orth_reg_weight", "lora_alpha", "peft_type", "task_type" })
                Assert.True(JsonNode.DeepEquals(theirs[key], ours[key]), $"{key}: ours {ours[key]?.ToJsonString()}, PEFT's {theirs[key]?.ToJsonString()}");
            using (var ourFile = SafetensorsFile.Open(Path.Combine(saved, PeftModel.WeightsFile)))
            using (var peftFile = SafetensorsFile.Open(Path.Combine(dir, "final", PeftModel.WeightsFile)))
            {
                Assert.Equal(peftFile.Keys.Order(), ourFile.Keys.Order());
                foreach (var key in peftFile.Keys)
                {
                    var err = Relative(ourFile.Load(key), peftFile.Load(key));
                    worst["final tensor"] = Math.Max(worst.GetValueOrDefault("final tensor"), err);
                    Assert.True(err < Parity.Tolerance, $"final {key}: relative error {err:E3}");
                }
            }

            // Reloaded on a fresh base (ranknum stays init_r), the outputs are PEFT's for final/.
            using var fresh = AutoModel.FromPretrained(Fixtures.Model(model));
            PeftModel.Load(fresh, saved);
            var inputs = ModelInputsFile.Load(Fixtures.Inputs(model), fresh.InputEmbeddings.weight!.shape[0]);
            using var reference = SafetensorsFile.Open(Path.Combine(dir, "final", "reference_outputs.safetensors"));
            using (no_grad())
                foreach (var (key, value) in fresh.forward(inputs).Named())
                {
                    if (!reference.Contains(key)) continue;
                    var err = Parity.MaxRelativeError(value, reference.Load(key), inputs.AttentionMask);
                    worst["final outputs"] = Math.Max(worst.GetValueOrDefault("final outputs"), err);
                    Assert.True(err < Parity.Tolerance, $"final outputs {key}: {err:E3}");
                }
        }
        finally
        {
            Directory.Delete(saved, recursive: true);
        }
        output.WriteLine($"{model}/{trace} worst: " + string.Join(", ", worst.Select(kv => $"{kv.Key} {kv.Value:E2}")));
    }
}
