using PeftSharp.Models;
using PeftSharp.Tests.IO;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// Loading an adapter never leaves dropout on: with a dropout of 0.5 in the adapter, two identical forward passes of a
/// loaded adapter give identical bytes, for every method that trains here (found in the registry).
/// </summary>
[Collection(SerialRandomness.Name)]
public class DeterministicInferenceTests
{
    public static TheoryData<string> Methods()
    {
        var data = new TheoryData<string>();
        foreach (var name in TunerRegistry.TrainableNames) data.Add(name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void A_loaded_adapter_with_dropout_gives_the_same_bytes_twice(string method)
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var tuner = TunerRegistry.Named(method)!;
        // With biases in attention, so that every method has something to adapt (BitFit trains biases only).
        var llama = TinyModels.Llama(c => c["attention_bias"] = true);
        using (var trained = TinyModels.Create(llama))
        {
            trained.train();
            var config = tuner.CreateConfig(new MethodSettings { Rank = 4, Alpha = 8, Dropout = 0.5, Seed = 3, TaskType = "CAUSAL_LM" });
            PeftModel.Create(trained, config).Save(dir.Path);
        }
        using var model = TinyModels.Create(llama);
        var peft = PeftModel.Load(model, dir.Path);
        Assert.All(ModuleTree.NamedModules(model), m => Assert.False(m.Module.training, $"{method}: {m.Name} is in training mode after loading"));
        var inputs = new ModelInputs { InputIds = TinyModels.Ids(new long[,] { { 1, 2, 3, 4, 5, 6 }, { 7, 8, 9, 10, 11, 12 } }) };
        using (no_grad())
        {
            var first = peft.Forward(inputs).Logits!.clone();
            var second = peft.Forward(inputs).Logits!;
            Assert.True(first.data<float>().ToArray().SequenceEqual(second.data<float>().ToArray()), $"{method}: two identical passes differ by {first.sub(second).abs().max().item<float>()}");
        }
    }

    [Fact]
    public void An_adapter_added_to_an_evaluating_model_evaluates_and_one_added_for_training_trains()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        var settings = new MethodSettings { Rank = 4, Alpha = 8, Dropout = 0.5 };
        var peft = PeftModel.Create(model, TunerRegistry.Named("lora")!.CreateConfig(settings));
        Assert.All(ModuleTree.NamedModules(model), m => Assert.False(m.Module.training, m.Name));
        model.train();
        peft.AddAdapter("second", TunerRegistry.Named("lora")!.CreateConfig(settings));
        Assert.All(ModuleTree.NamedModules(model), m => Assert.True(m.Module.training, m.Name));
    }
}
