using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using Parameter = TorchSharp.Modules.Parameter;
using ParamGroup = PeftSharp.Training.ParamGroup;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training;

/// <summary>
/// Mixed-precision training (precision bf16): the choice and its reason, float32 master weights that keep updates
/// bf16 would round away, a run that trains to about the fp32 run's loss and saves its adapter in float32, exact resume,
/// fp16's dynamic loss scaling (a skipped overflowing step, a halved scale, its state in the checkpoints), and the
/// refusals (a 4-bit base, a method that edits its parameters between steps).
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class MixedPrecisionTests : IDisposable
{
    private readonly TinyTrainingRun _run = new(48);

    public void Dispose() => _run.Dispose();

    private TrainingOptions Options(string name, string precision) =>
        _run.Options(name) with { MaxSteps = 6, SaveEvery = 2, EvalEvery = 3, KeepLast = 5, Precision = precision, Dropout = 0 };

    [Fact]
    public void The_precision_is_resolved_with_its_reason()
    {
        Assert.Equal(ScalarType.Float32, Precision.Resolve("fp32", CPU).DType);
        Assert.Equal(ScalarType.BFloat16, Precision.Resolve("bf16", CPU).DType);
        var (auto, why) = Precision.Resolve("auto", CPU);
        Assert.Equal(Precision.CpuHasNativeBf16 ? ScalarType.BFloat16 : ScalarType.Float32, auto);
        Assert.Contains(Precision.CpuHasNativeBf16 ? "native bfloat16" : "no native bfloat16", why);
        Assert.Equal(ScalarType.Float16, Precision.Resolve("fp16", CPU).DType);
        Assert.Contains("loss scaling", Precision.Resolve("fp16", CPU).Reason);
        Assert.Throws<PeftException>(() => Precision.Resolve("half", CPU));
    }

    [Fact]
    public void Master_weights_keep_updates_that_bfloat16_rounds_away()
    {
        using var scope = NewDisposeScope();
        // 1 + 1e-4 is 1 in bf16 (spacing 2^-7 at 1): a bf16 parameter updated in place never moves.
        var start = ones(4);
        var plain = new Parameter(start.to(ScalarType.BFloat16), requires_grad: true);
        var mixed = new Parameter(start.to(ScalarType.BFloat16), requires_grad: true);
        using var sgdPlain = new Sgd([new ParamGroup("all", [("p", plain)], 1e-4, 0)], momentum: 0);
        using var sgdMixed = new Sgd([new ParamGroup("all", [("p", mixed)], 1e-4, 0)], momentum: 0);
        sgdMixed.UseMasterWeights(new Dictionary<string, Tensor> { ["p"] = start });
        for (int i = 0; i < 100; i++)
        {
            plain.grad = full(4, -1.0f).to(ScalarType.BFloat16);
            mixed.grad = full(4, -1.0f).to(ScalarType.BFloat16);
            sgdPlain.Step();
            sgdMixed.Step();
        }
        Assert.Equal(1f, plain.to(ScalarType.Float32)[0].item<float>());
        var master = sgdMixed.MasterOf(mixed)!;
        Assert.Equal(ScalarType.Float32, master.dtype);
        Assert.InRange(master[0].item<float>(), 1.0099f, 1.0101f); // 100 steps of 1e-4
        Assert.True(mixed.equal(master.to(ScalarType.BFloat16)).all().item<bool>(), "the working copy is the master rounded");
        Assert.Contains(sgdMixed.StateTensors(), kv => kv.Key == "master/p");
    }

    [Fact]
    public void The_loss_scale_halves_on_overflow_and_doubles_after_a_run_of_good_steps()
    {
        var scaler = new LossScaler();
        Assert.Equal(65536, scaler.Scale);
        scaler.Overflowed();
        scaler.Overflowed();
        Assert.Equal(16384, scaler.Scale);
        Assert.Equal(2, scaler.Skipped);
        for (int i = 0; i < LossScaler.GrowthInterval - 1; i++) scaler.Stepped();
        Assert.Equal(16384, scaler.Scale);
        scaler.Stepped();
        Assert.Equal(32768, scaler.Scale);
        Assert.Equal(0, scaler.GoodSteps);
        Assert.Throws<PeftException>(() => scaler.Restore(double.NaN, 0, 0));
    }

    [Theory]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public void A_half_precision_run_trains_like_the_fp32_run_saves_float32_and_resumes_exactly(string precision)
    {
        var fp32 = TrainingSession.Run(Options("fp32", "fp32"));
        var bf16 = TrainingSession.Run(Options(precision, precision));
        Assert.Equal(6, bf16.Steps);
        using (var file = SafetensorsFile.Open(Path.Combine(bf16.AdapterDir, PeftModel.WeightsFile)))
        {
            Assert.All(file.Keys, k => Assert.Equal(SafetensorsDType.F32, file.GetEntry(k).DType));
            // Updates were made (LoRA's B starts at zero; float16 steps skipped for overflow would leave it there).
            var bNorm = file.Keys.Where(k => k.Contains("lora_B", StringComparison.Ordinal)).Sum(k => { using var t = file.Load(k); return t.norm().item<float>(); });
            Assert.True(bNorm > 0, $"{precision}: no update reached the adapter");
        }
        // The same data, initialisation and steps: the losses agree to bf16's rounding (8-bit mantissa, about 0.4% a value).
        var a = fp32.StepLog.Select(s => s.Loss).ToList();
        var b = bf16.StepLog.Select(s => s.Loss).ToList();
        Assert.Equal(a.Count, b.Count);
        Assert.NotEqual(a, b); // it did run in bf16
        for (int i = 0; i < a.Count; i++) Assert.True(Math.Abs(a[i] - b[i]) <= 0.03 * Math.Abs(a[i]) + 1e-3, $"step {i + 1}: fp32 loss {a[i]}, bf16 {b[i]}");

        var o = Options("interrupted", precision);
        using var cancel = new CancellationTokenSource();
        var stopped = TrainingSession.Run(o, new CancelAt(3, cancel), cancel.Token);
        Assert.True(stopped.Interrupted);
        using (var state = SafetensorsFile.Open(Path.Combine(stopped.Checkpoint!, Checkpoints.OptimizerFile)))
            Assert.Contains(state.Keys, k => k.StartsWith("master/", StringComparison.Ordinal));
        var resumed = TrainingSession.Run(o with { Resume = true });
        Assert.Equal(6, resumed.Steps);
        Assert.Equal(File.ReadAllBytes(Path.Combine(bf16.AdapterDir, PeftModel.WeightsFile)), File.ReadAllBytes(Path.Combine(resumed.AdapterDir, PeftModel.WeightsFile)));
        if (precision == "fp16")
            using (var state = SafetensorsFile.Open(Path.Combine(stopped.Checkpoint!, Checkpoints.OptimizerFile)))
                Assert.Contains("scaler/scale", state.Keys);
        var refused = Assert.Throws<PeftException>(() => TrainingSession.Run(o with { Resume = true, MaxSteps = 8, Precision = "fp32" }));
        Assert.Contains("precision", refused.Message);
    }

    /// <summary>
    /// One forward and backward of LoRA (all linear layers, non-zero A and B so that every adapter tensor has a
    /// gradient) in float32 and with the whole model in bf16, on the same weights and batch. bf16 keeps 8 significant
    /// bits (unit roundoff 2^-8, 0.39%), and every matmul output, activation and norm output is rounded to it, forward and
    /// backward, through the two layers and the head: a few roundoffs accumulate, a few percent of the gradient. The
    /// bounds, for the whole gradient (every adapter tensor concatenated): at most 5% relative difference and a cosine
    /// of at least 0.999; and no tensor's own error above 3% of the whole gradient's norm (measured here: at most 1.8%
    /// relative for the whole, cosine 0.99984, and 1.1% for one tensor). A wrong gradient (a missing term, a sign, a lost scale) is tens of
    /// percent off, so this separates rounding from error.
    /// </summary>
    [Theory]
    [InlineData("llama")]
    [InlineData("gpt2")]
    [InlineData("bert")]
    public void Gradients_in_bf16_agree_with_float32_to_bf16_rounding(string arch)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(arch switch { "llama" => TinyModels.Llama(), "gpt2" => TinyModels.Gpt2(), _ => TinyModels.Bert(c => c["architectures"] = new System.Text.Json.Nodes.JsonArray("BertForSequenceClassification")) }, seed: 4);
        var peft = PeftModel.Create(model, new PeftSharp.Tuners.Lora.LoraConfig { R = 4, LoraAlpha = 8, Targets = new TargetSpec { TargetList = [TargetSpec.AllLinear] } });
        manual_seed(11);
        foreach (var (_, layer) in peft.Layers)
            if (layer is PeftSharp.Tuners.Lora.LoraLayer lora)
            {
                var (a, b) = (lora.A(PeftModel.DefaultAdapter).weight!, lora.B(PeftModel.DefaultAdapter).weight!);
                lora.SetWeights(PeftModel.DefaultAdapter, randn(a.shape).mul(0.2), randn(b.shape).mul(0.2));
            }
        model.train();
        var kind = PeftSharp.Tests.Tuners.SmallMethodBatches.Kind(arch);
        var batch = PeftSharp.Tests.Tuners.SmallMethodBatches.Batch(arch);
        var reference = Gradients(model, peft, kind, batch);
        model.to(ScalarType.BFloat16);
        var low = Gradients(model, peft, kind, batch);
        Assert.Equal(reference.Keys.Order(), low.Keys.Order());
        var names = reference.Keys.Order().ToList();
        var r = cat(names.Select(n => reference[n].reshape(-1)).ToArray()).to(ScalarType.Float64);
        var d = cat(names.Select(n => low[n].reshape(-1)).ToArray()).to(ScalarType.Float64);
        double norm = r.norm().item<double>();
        double relative = d.sub(r).norm().item<double>() / norm;
        double cosine = d.mul(r).sum().item<double>() / (d.norm().item<double>() * norm);
        Assert.True(relative < 0.05 && cosine > 0.999, $"{arch}: the whole gradient differs by {relative:G3} relative, cosine {cosine:G6}");
        double worst = 0;
        foreach (var name in names)
        {
            // Each tensor's error measured against the whole gradient: a tensor whose own gradient is a thousandth of the
            // others' (BERT's last query, which only the CLS position reaches) is all rounding noise in bf16, and its
            // own relative error says nothing.
            double share = low[name].to(ScalarType.Float64).sub(reference[name].to(ScalarType.Float64)).norm().item<double>() / norm;
            worst = Math.Max(worst, share);
            Assert.True(share < 0.03, $"{arch} {name}: its error is {share:G3} of the gradient's norm");
        }
        Assert.True(worst > 0, "bf16 gave float32's gradients exactly: it did not run in bf16");
    }

    private static Dictionary<string, Tensor> Gradients(PeftSharp.Models.PretrainedModel model, PeftModel peft, PeftSharp.Data.TaskKind kind, PeftSharp.Data.BatchTensors batch)
    {
        var trainable = peft.TrainableNamedParameters().ToList();
        foreach (var (_, p) in trainable) p.grad = null;
        TrainingStep.ForwardBackward(model, kind, batch, 1.0);
        return trainable.ToDictionary(p => p.Name, p => p.Parameter.grad!.to(ScalarType.Float32, copy: true));
    }

    [Fact]
    public void A_method_that_edits_its_parameters_between_steps_is_refused_in_bf16()
    {
        var o = Options("adalora", "bf16") with
        {
            Method = PeftSharp.Tuners.AdaLora.AdaLoraOptions.Method,
            MethodOptions = PeftSharp.Options.OptionValues.Empty.With(PeftSharp.Tuners.AdaLora.AdaLoraOptions.InitR.Key, 4)
                .With(PeftSharp.Tuners.AdaLora.AdaLoraOptions.TargetR.Key, 2).With(PeftSharp.Tuners.AdaLora.AdaLoraOptions.Tinit.Key, 1)
                .With(PeftSharp.Tuners.AdaLora.AdaLoraOptions.Tfinal.Key, 2),
        };
        var e = Assert.Throws<PeftException>(() => TrainingSession.Run(o));
        Assert.Contains("fp32", e.Message);
        Assert.False(Directory.Exists(o.Output));
    }

    [Fact]
    public void An_fp16_step_whose_gradients_overflow_is_skipped_and_the_scale_halved()
    {
        // alpha 2^14 with rank 8 multiplies LoRA's path by 2048: its gradients times the loss scale 2^16 pass
        // float16's largest value (65504) until the scale has come down.
        var messages = new Messages();
        var run = TrainingSession.Run(Options("overflow", "fp16") with { Alpha = 16384, Rank = 8 }, messages);
        var skipped = messages.Lines.Where(m => m.Contains("overflowed", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(skipped);
        Assert.Contains("scale now 32768", skipped[0]);
        using var state = SafetensorsFile.Open(Path.Combine(new Checkpoints(run.OutputDir, 5).List()[^1].Dir, Checkpoints.OptimizerFile));
        using var scale = state.Load("scaler/scale");
        using var count = state.Load("scaler/skipped");
        Assert.Equal(skipped.Count, (int)count.to(ScalarType.Float64).item<double>());
        Assert.Equal(65536 / Math.Pow(2, skipped.Count), scale.to(ScalarType.Float64).item<double>());
        Assert.True(skipped.Count < 6, "every step overflowed: nothing was learnt");
        Assert.All(run.StepLog, s => Assert.True(double.IsFinite(s.Loss)));
    }

    private sealed class Messages : ITrainerObserver
    {
        public List<string> Lines { get; } = [];
        public void OnMessage(string message) => Lines.Add(message);
    }

    private sealed class CancelAt(int step, CancellationTokenSource cancel) : ITrainerObserver
    {
        public void OnStep(StepRecord s) { if (s.Step == step) cancel.Cancel(); }
    }
}
