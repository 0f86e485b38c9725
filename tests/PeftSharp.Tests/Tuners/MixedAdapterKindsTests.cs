using PeftSharp.Options;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using PeftSharp.Tuners.PromptLearning;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// A prompt-learning adapter and a LoRA adapter on one base (issue 12 point 4): each computes exactly what it
/// computes alone, only the active one trains, they are never active together (PEFT cannot hold both kinds in one
/// model at all; here they share the base but are kept apart), and they save into separate folders that load back
/// separately, each onto a fresh base, with the same outputs.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class MixedAdapterKindsTests
{
    private static readonly Tensor Ids = TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9 }, { 11, 12, 13, 14, 15 } });

    private static PeftConfig Lora() => new LoraConfig { TaskType = TaskTypes.CausalLm, R = 4, LoraAlpha = 8, Targets = new TargetSpec { TargetList = ["c_attn"] }, InitLoraWeights = "false" };

    private static PeftConfig Prompt() => TunerRegistry.Named("prompt-tuning")!.CreateConfig(new MethodSettings
    {
        TaskType = TaskTypes.CausalLm,
        Options = OptionValues.Empty.With(PromptLearningOptions.NumVirtualTokens.Key, 3),
    });

    private static Tensor Logits(PretrainedModel model)
    {
        using var _ = no_grad();
        var logits = model.forward(new ModelInputs { InputIds = Ids, AttentionMask = ones_like(Ids) }).Logits!;
        return logits[.., ^5..].clone(); // the real positions (a prompt adapter puts 3 virtual ones in front)
    }

    [Fact]
    public void APromptAdapterAndALoraAdapterShareABaseButStayApart()
    {
        using var scope = NewDisposeScope();
        var json = TinyModels.Gpt2();
        using var model = TinyModels.Create(json, seed: 2);
        var baseLogits = Logits(model);
        manual_seed(21);
        var peft = PeftModel.Create(model, Lora(), "lora");
        var loraLogits = Logits(model);
        manual_seed(22);
        peft.AddAdapter("prompt", Prompt());

        // Alone on fresh bases, with the same draws, for reference.
        using var loraOnly = TinyModels.Create(json, seed: 2);
        manual_seed(21);
        PeftModel.Create(loraOnly, Lora(), "lora");
        using var promptOnly = TinyModels.Create(json, seed: 2);
        manual_seed(22);
        PeftModel.Create(promptOnly, Prompt(), "prompt");

        Assert.True(Logits(model).allclose(loraLogits, 0, 0)); // adding the prompt adapter left the active LoRA alone
        peft.SetAdapter("prompt");
        var promptLogits = Logits(model);
        Assert.True(promptLogits.allclose(Logits(promptOnly), 0, 0));
        Assert.False(promptLogits.allclose(baseLogits, 1e-4, 1e-4));
        Assert.All(peft.TrainableNamedParameters(), p => Assert.Equal(PromptAdapter.SavedKey, p.Name));
        peft.SetAdapter("lora");
        Assert.True(Logits(model).allclose(Logits(loraOnly), 0, 0));
        Assert.All(peft.TrainableNamedParameters(), p => Assert.Contains(".lora_", p.Name));

        var together = Assert.Throws<PeftException>(() => peft.SetActiveAdapters(["lora", "prompt"]));
        Assert.Contains("one at a time", together.Message);

        var dir = Directory.CreateTempSubdirectory("peft-mixed-").FullName;
        try
        {
            peft.Save(dir);
            Assert.True(File.Exists(Path.Combine(dir, "lora", PeftModel.ConfigFile)));
            Assert.True(File.Exists(Path.Combine(dir, "prompt", PeftModel.ConfigFile)));
            using var fresh1 = TinyModels.Create(json, seed: 2);
            PeftModel.Load(fresh1, Path.Combine(dir, "prompt"));
            Assert.True(Logits(fresh1).allclose(promptLogits, 0, 0));
            using var fresh2 = TinyModels.Create(json, seed: 2);
            var both = PeftModel.Load(fresh2, Path.Combine(dir, "lora"), "lora");
            Assert.True(Logits(fresh2).allclose(Logits(loraOnly), 0, 0));
            both.LoadAdapter(Path.Combine(dir, "prompt"), "prompt");
            both.SetAdapter("prompt", trainable: false);
            Assert.True(Logits(fresh2).allclose(promptLogits, 0, 0));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
