using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Models.Quantization;
using PeftSharp.Tests.Support;
using PeftSharp.Tests.Training;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using TorchSharp.Modules;
using static PeftSharp.Tests.Tuners.SmallMethodBatches;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models.Quantization;

/// <summary>
/// A 4-bit base (QLoRA): every linear layer but the head becomes a Linear4bit, the model computes what the float model
/// with the dequantized weights computes, LoRA and DoRA train on top with gradients to the adapter only, the saved
/// adapter reloads onto a freshly quantized base to the same outputs, and writing a 4-bit weight is refused.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class QuantizedModelTests
{
    public static TheoryData<string> Architectures => new() { "llama", "gpt2", "bert" };

    private static PretrainedModel Tiny(string arch) => TinyModels.Create(arch switch
    {
        "llama" => TinyModels.Llama(),
        "gpt2" => TinyModels.Gpt2(),
        _ => TinyModels.Bert(c => c["architectures"] = new JsonArray("BertForSequenceClassification")),
    }, seed: 4);

    /// <summary>The float model with each linear weight replaced by its 4-bit round trip: what the 4-bit model must compute.</summary>
    private static PretrainedModel RoundTripped(string arch, QuantizationConfig q)
    {
        var model = Tiny(arch);
        using var _ = no_grad();
        foreach (var (name, module) in ModuleTree.NamedModules(model))
        {
            if (name.StartsWith(model.OutputHeadName + ".", StringComparison.Ordinal) || name == model.OutputHeadName) continue;
            var linear = LinearBase.TryCreate(module);
            if (linear == null) continue;
            using var state = FourBitQuantizer.Quantize(linear.WeightOutIn(), q.Type, q.BlockSize, q.DoubleQuant);
            linear.SetWeight(FourBitQuantizer.Dequantize(state));
        }
        return model;
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Every_linear_layer_but_the_head_is_4_bit_and_computes_as_the_dequantized_float_model(string arch)
    {
        using var scope = NewDisposeScope();
        var q = new QuantizationConfig(FourBitType.Nf4, DoubleQuant: true);
        using var model = Tiny(arch);
        int linears = ModuleTree.NamedModules(model).Count(m => LinearBase.IsLinear(m.Module));
        long allBefore = model.parameters().Sum(p => p.numel());
        int quantized = ModelQuantizer.Quantize(model, q);
        var layers = ModelQuantizer.Layers(model).ToList();
        Assert.Equal(quantized, layers.Count);
        // The head (lm_head, the classifier) stays float, as transformers keeps it; GPT-2's is the tied embedding, no linear layer.
        bool headIsLinear = ModuleTree.NamedModules(model).Any(m => m.Name == model.OutputHeadName && m.Module is Linear);
        Assert.Equal(linears - (headIsLinear ? 1 : 0), quantized);
        Assert.Equal(arch != "gpt2", headIsLinear);
        Assert.DoesNotContain(model.named_parameters(), p => layers.Any(l => p.name == l.Name + ".weight"));
        Assert.All(layers, l => Assert.Equal(ScalarType.Byte, l.Layer.get_buffer("weight")!.dtype));

        using var reference = RoundTripped(arch, q);
        var batch = Batch(arch);
        var expected = Logits(reference, batch);
        var actual = Logits(model, batch);
        Assert.True(actual.allclose(expected, 1e-5, 1e-5), $"{arch}: max difference {actual.sub(expected).abs().max().item<float>()}");
        Assert.True(Same(actual, Logits(model, batch)), "two forward passes differ");

        // The report counts the 4-bit weights as weights (as PEFT counts Params4bit), not as missing parameters.
        var peft = PeftModel.Create(model, new LoraConfig { R = 2, LoraAlpha = 4, Targets = new TargetSpec { TargetList = [TargetSpec.AllLinear] } });
        Assert.True(peft.TrainableParameters().All > allBefore - 1000);
    }

    [Theory]
    [InlineData("llama", false)]
    [InlineData("llama", true)]
    [InlineData("gpt2", false)]
    [InlineData("bert", true)]
    public void Lora_and_dora_train_on_the_4_bit_base_and_the_adapter_reloads_onto_a_fresh_4_bit_base(string arch, bool dora)
    {
        using var scope = NewDisposeScope();
        var q = new QuantizationConfig(FourBitType.Nf4);
        using var model = Tiny(arch);
        ModelQuantizer.Quantize(model, q);
        var buffersBefore = model.named_buffers().ToDictionary(b => b.name, b => b.buffer.clone());
        var peft = PeftModel.Create(model, new LoraConfig
        {
            R = 4, LoraAlpha = 8, UseDora = dora, InitLoraWeights = "gaussian", TaskType = arch == "bert" ? "SEQ_CLS" : "CAUSAL_LM",
            Targets = new TargetSpec { TargetList = [TargetSpec.AllLinear] },
        });
        var trainable = peft.TrainableNamedParameters().ToList();
        var start = trainable.ToDictionary(t => t.Name, t => t.Parameter.detach().clone());
        Assert.All(trainable, t => Assert.True(t.Name.Contains(".lora_", StringComparison.Ordinal) || IsHead(t.Name), t.Name));
        var batch = Batch(arch);
        model.train();
        var optimizer = optim.AdamW(trainable.Select(t => t.Parameter), lr: 1e-2);
        for (int step = 0; step < 3; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            TrainingStep.ForwardBackward(model, Kind(arch), batch, 1.0);
            // B starts at zero, so the first step's gradient reaches B (through the 4-bit layers below); A follows after it.
            Assert.All(trainable.Where(t => t.Name.Contains("lora_B", StringComparison.Ordinal)),
                t => Assert.True(t.Parameter.grad is { } g && g.abs().sum().item<float>() > 0, $"{t.Name} got no gradient"));
            optimizer.step();
        }
        model.eval();
        Assert.All(trainable.Where(t => t.Name.Contains(".lora_", StringComparison.Ordinal)), t => Assert.False(Same(start[t.Name], t.Parameter), $"{t.Name} did not train"));
        foreach (var (name, buffer) in model.named_buffers())
            if (buffersBefore.TryGetValue(name.Replace(".base_layer", "", StringComparison.Ordinal), out var before))
                Assert.True(Same(before, buffer), $"the 4-bit buffer {name} changed");
        var trained = Logits(model, batch);

        var dir = Directory.CreateTempSubdirectory("peft-4bit-").FullName;
        try
        {
            peft.Save(dir);
            using var fresh = Tiny(arch);
            ModelQuantizer.Quantize(fresh, q);
            PeftModel.Load(fresh, dir);
            Assert.True(Same(trained, Logits(fresh, batch)), $"{arch}: the adapter on a fresh 4-bit base gives other outputs");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        var e = Assert.Throws<PeftException>(() => peft.MergeAndUnload());
        Assert.Contains("4-bit", e.Message);
    }

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Dequantizing_gives_float_layers_of_the_original_kinds_that_compute_what_the_4_bit_layers_did(string arch)
    {
        using var scope = NewDisposeScope();
        using var model = Tiny(arch);
        var kinds = ModuleTree.NamedModules(model).Where(m => LinearBase.IsLinear(m.Module)).ToDictionary(m => m.Name, m => m.Module.GetType());
        ModelQuantizer.Quantize(model, new QuantizationConfig(FourBitType.Fp4, DoubleQuant: true));
        var batch = Batch(arch);
        var quantized = Logits(model, batch);
        Assert.True(ModelQuantizer.Dequantize(model) > 0);
        Assert.Empty(ModelQuantizer.Layers(model));
        Assert.Equal(kinds, ModuleTree.NamedModules(model).Where(m => LinearBase.IsLinear(m.Module)).ToDictionary(m => m.Name, m => m.Module.GetType()));
        var restored = Logits(model, batch);
        Assert.True(restored.allclose(quantized, 1e-5, 1e-5), $"{arch}: {restored.sub(quantized).abs().max().item<float>()}");
    }

    [Fact]
    public void A_bfloat16_compute_dtype_keeps_the_models_float32_outputs_and_gradients_close_to_float32_compute()
    {
        using var scope = NewDisposeScope();
        using var f32 = Tiny("llama");
        using var bf16 = Tiny("llama");
        ModelQuantizer.Quantize(f32, new QuantizationConfig(FourBitType.Nf4));
        ModelQuantizer.Quantize(bf16, new QuantizationConfig(FourBitType.Nf4, ComputeDType: ScalarType.BFloat16));
        Assert.All(ModelQuantizer.Layers(bf16), l => Assert.Equal(ScalarType.BFloat16, l.Layer.ComputeDType));
        var batch = Batch("llama");
        var (a, b) = (Logits(f32, batch), Logits(bf16, batch));
        Assert.Equal(ScalarType.Float32, b.dtype);
        double rel = b.sub(a).abs().max().item<float>() / a.abs().max().item<float>();
        Assert.True(rel > 0 && rel < 0.05, $"bf16 compute vs float32 compute: {rel:E2} of the largest logit");
        var layer = ModelQuantizer.Layers(bf16).First().Layer;
        var x = randn(3, layer.InFeatures).requires_grad_(true);
        layer.forward(x).sum().backward();
        Assert.Equal(ScalarType.Float32, x.grad!.dtype);
    }

    [Theory]
    [InlineData("quantize: nf4\nmethod: full", "method full trains every weight")]
    [InlineData("double_quant: true", "double_quant quantizes the 4-bit scales")]
    [InlineData("quantize: nf8", "quantize")]
    public void Wrong_quantization_options_are_refused_before_anything_runs(string yaml, string message)
    {
        OptionsAssert.Refused(yaml, message);
    }

    [Fact]
    public void A_training_run_on_a_4_bit_base_says_so_and_counts_the_4_bit_weights()
    {
        using var run = new TinyTrainingRun();
        var messages = new List<string>();
        var options = run.Options("qlora") with { Quantize = "nf4", DoubleQuant = true, MaxSteps = 3, Epochs = 1 };
        var observer = new Messages(messages);
        var summary = TrainingSession.Run(options, observer);
        Assert.Contains(messages, m => m.StartsWith("base in 4 bits: ", StringComparison.Ordinal) && m.Contains("nf4 with double quantization"));
        Assert.True(File.Exists(Path.Combine(summary.AdapterDir, PeftModel.WeightsFile)));
        var report = File.ReadAllText(Path.Combine(options.Output, "report.md"));
        Assert.Contains("| base in 4 bits | nf4 with double quantization, compute float32 |", report);
        // "trainable parameters | N of M": M is the float model's count plus what trains (LoRA and the head's copy, as PEFT
        // counts modules_to_save): the 4-bit weights count as weights, not as missing parameters
        long all, head;
        using (var floatModel = AutoModel.ForSequenceClassification(run.ModelDir, 2))
            (all, head) = (floatModel.parameters().Sum(p => p.numel()), floatModel.named_parameters().Where(p => IsHead(p.name)).Sum(p => p.parameter.numel()));
        var counts = System.Text.RegularExpressions.Regex.Match(report, @"\| trainable parameters \| ([\d,]+) of ([\d,]+) ");
        Assert.True(counts.Success, report);
        long trainable = long.Parse(counts.Groups[1].Value.Replace(",", ""));
        Assert.Equal(all + trainable, long.Parse(counts.Groups[2].Value.Replace(",", "")));
    }

    private sealed class Messages(List<string> into) : ITrainerObserver
    {
        public void OnMessage(string message) => into.Add(message);
    }
}
