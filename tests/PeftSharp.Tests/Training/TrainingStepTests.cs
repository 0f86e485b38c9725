using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training;

[Collection(SerialRandomness.Name)]
public class TrainingStepTests
{
    /// <summary>Gradient checkpointing recomputes layers with the same dropout masks: same loss and gradients.</summary>
    [Theory]
    [InlineData("gpt2")]
    [InlineData("llama")]
    public void CheckpointedLayersGiveTheSameGradients(string arch)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(arch == "gpt2"
            ? TinyModels.Gpt2(c => { c["resid_pdrop"] = 0.2; c["embd_pdrop"] = 0.1; c["attn_pdrop"] = 0.1; })
            : TinyModels.Llama(c => c["attention_dropout"] = 0.2));
        var peft = PeftModel.Create(model, LoraConfig.Read(new JsonConfig(new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = 4, ["target_modules"] = "all-linear", ["init_lora_weights"] = false, ["lora_dropout"] = 0.1,
        }, "t")));
        var ids = tensor(new long[,] { { 5, 6, 7, 8, 9, 10 }, { 11, 12, 13, 14, 0, 0 } });
        var mask = tensor(new long[,] { { 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 0, 0 } });
        var labels = tensor(new long[,] { { 5, 6, 7, 8, 9, 10 }, { 11, 12, 13, 14, -100, -100 } });
        var batch = new BatchTensors(new ModelInputs { InputIds = ids, AttentionMask = mask }, labels);
        model.train();
        var parameters = peft.TrainableNamedParameters().ToList();

        manual_seed(123);
        double plain = TrainingStep.ForwardBackward(model, TaskKind.CausalLm, batch, 1.0);
        var plainGrads = parameters.ToDictionary(p => p.Name, p => p.Parameter.grad!.clone());
        var rngAfterPlain = get_rng_state();
        foreach (var (_, p) in parameters) p.grad!.zero_();

        manual_seed(123);
        double checkpointed = TrainingStep.ForwardBackward(model, TaskKind.CausalLm, batch, 1.0, checkpointLayers: true);
        Assert.Equal(plain, checkpointed, 5);
        foreach (var (name, p) in parameters)
            Assert.True(p.grad!.allclose(plainGrads[name], 1e-4, 1e-6), $"{name}: {p.grad!.sub(plainGrads[name]).abs().max().item<float>()}");
        Assert.True(get_rng_state().equal(rngAfterPlain).all().item<bool>(), "the random stream continues as without checkpointing");
    }

    /// <summary>The sliced language-model loss gives the plain loss and the same gradients, for causal LM and seq2seq.</summary>
    [Theory]
    [InlineData("gpt2")]
    [InlineData("t5")]
    public void SlicedLossEqualsThePlainLossAndGradients(string arch)
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(arch == "gpt2" ? TinyModels.Gpt2() : TinyModels.T5());
        var peft = PeftModel.Create(model, LoraConfig.Read(new JsonConfig(new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = 4, ["target_modules"] = "all-linear", ["init_lora_weights"] = false,
        }, "t")));
        var ids = tensor(new long[,] { { 5, 6, 7, 8, 9, 10 }, { 11, 12, 13, 14, 0, 0 } });
        var mask = tensor(new long[,] { { 1, 1, 1, 1, 1, 1 }, { 1, 1, 1, 1, 0, 0 } });
        var labels = tensor(new long[,] { { 5, 6, 7, 8, 9, 10 }, { 11, 12, 13, 14, -100, -100 } });
        var kind = arch == "gpt2" ? TaskKind.CausalLm : TaskKind.Seq2SeqLm;
        var inputs = new ModelInputs { InputIds = ids, AttentionMask = mask, DecoderInputIds = arch == "t5" ? ids : null };
        var batch = new BatchTensors(inputs, labels);

        model.train();
        var parameters = peft.TrainableNamedParameters().ToList();
        var (plainLoss, _) = TaskLoss.Compute(kind, model.forward(inputs).Logits!, labels);
        plainLoss.mul(0.5).backward();
        var plainGrads = parameters.ToDictionary(p => p.Name, p => p.Parameter.grad!.clone());
        foreach (var (_, p) in parameters) p.grad!.zero_();

        double sliced = TrainingStep.ForwardBackward(model, kind, batch, 0.5, sliceBytes: 4 * 100 * 3); // 3 positions per slice
        Assert.Equal(plainLoss.item<float>(), sliced, 5);
        foreach (var (name, p) in parameters)
            Assert.True(p.grad!.allclose(plainGrads[name], 1e-4, 1e-6), $"{name}: {p.grad!.sub(plainGrads[name]).abs().max().item<float>()}");
    }
}
