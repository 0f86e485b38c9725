using System.Text.Json.Nodes;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using static PeftSharp.Tests.Tuners.SmallMethodBatches;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training;

/// <summary>
/// layer_groups (SPAFIT's frozen / bias-only / adapter layers): the value's mistakes are one line each, and on a tiny
/// GPT-2 and a tiny BERT classifier of three layers exactly the parameters the groups name train, and a saved run
/// loads, runs and merges to the same outputs.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class LayerGroupsTests
{
    private const string Spafit = "0:frozen,1:bias,2:adapter";

    [Fact]
    public void AValueIsRangesInLayerOrder()
    {
        var groups = LayerGroups.Parse(" 2-3:adapter, 0-1 :frozen,4:bias ")!;
        Assert.Equal([new LayerGroup(0, 1, LayerGroupKind.Frozen), new LayerGroup(2, 3, LayerGroupKind.Adapter), new LayerGroup(4, 4, LayerGroupKind.Bias)], groups.Groups);
        Assert.Equal([2, 3], groups.Layers(LayerGroupKind.Adapter));
        Assert.Equal("layers 0-1 frozen; 2-3 LoRA and biases; 4 biases only (BitFit)", groups.Describe("LoRA"));
        Assert.Null(LayerGroups.Parse(null));
        groups.CheckCovers(5);
    }

    [Theory]
    [InlineData("0-1:frozen,3-5:adapter", "layer_groups: layer 2 is in no group; every layer must be in exactly one group")]
    [InlineData("1-5:adapter", "layer_groups: layer 0 is in no group")]
    [InlineData("0-3:bias,3-5:adapter", "layer_groups: layer 3 is in two groups (0-3:bias and 3-5:adapter)")]
    [InlineData("0-1:frozen,2-5:lora", "layer_groups: \"2-5:lora\": unknown group kind \"lora\"; expected frozen, bias or adapter")]
    [InlineData("0-1:frozen,,2-5:adapter", "layer_groups: \"0-1:frozen,,2-5:adapter\" has an empty group")]
    [InlineData("0-5", "layer_groups: \"0-5\" is not from-to:kind")]
    [InlineData("0-x:adapter", "layer_groups: \"0-x:adapter\": \"0-x\" is not a layer range")]
    [InlineData("5-0:adapter", "layer_groups: \"5-0:adapter\": the range runs backwards (5 > 0)")]
    [InlineData("0-2:frozen,3-5:bias", "has no adapter group")]
    public void AMistakeIsOneLineNamingTheOption(string value, string expected)
    {
        var e = Assert.Throws<PeftException>(() => LayerGroups.Parse(value));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void RangesMustCoverTheModelsLayersExactly()
    {
        var beyond = Assert.Throws<PeftException>(() => LayerGroups.Parse("0-1:frozen,2-7:adapter")!.CheckCovers(6));
        Assert.Equal("layer_groups: the model has 6 layers (0-5), but 2-7:adapter reaches layer 7", beyond.Message);
        var short_ = Assert.Throws<PeftException>(() => LayerGroups.Parse("0-1:frozen,2-3:adapter")!.CheckCovers(6));
        Assert.Equal("layer_groups: layers 4-5 are in no group (the model has 6 layers, 0-5); every layer must be in exactly one group", short_.Message);

        using var model = TinyModels.Create(TinyModels.Gpt2(c => c["n_layer"] = 3));
        Assert.Equal(3, LayerGroups.CountLayers(model));
        var o = new TrainingOptions { LayerGroups = "0-3:adapter" };
        var e = Assert.Throws<PeftException>(() => TrainingMethods.Adapt(model, o, TaskKind.CausalLm, _ => { }));
        Assert.Equal("layer_groups: the model has 3 layers (0-2), but 0-3:adapter reaches layer 3", e.Message);
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains("base_layer")); // refused before anything was wrapped
    }

    [Theory]
    [InlineData("full", "method full is a baseline")]
    [InlineData("bitfit", "the bias groups are BitFit already")]
    [InlineData("prompt-tuning", "needs a method that wraps target modules layer by layer")]
    public void TheConfigCheckRefusesMethodsThatCannotTakeGroups(string method, string expected)
    {
        var o = new TrainingOptions { Model = "m", TrainData = "d.jsonl", Method = method, LayerGroups = Spafit };
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.Validate(o));
        Assert.Contains(expected, e.Message);
        Assert.Contains("layer_groups", e.Message);

        var fromAdapter = Assert.Throws<PeftException>(() => TrainConfigFile.Validate(o with { Method = "lora", FromAdapter = "a" }));
        Assert.Contains("from_adapter continues one whose layers are fixed already", fromAdapter.Message);
        var parse = Assert.Throws<PeftException>(() => TrainConfigFile.Validate(o with { Method = "lora", LayerGroups = "0:frozen,1:top" }));
        Assert.Contains("unknown group kind \"top\"", parse.Message);
        TrainConfigFile.Validate(o with { Method = "lora" });
    }

    [Fact]
    public void TheFlagAndTheConfigKeySetIt()
    {
        var o = TrainConfigFile.ApplyOverrides(new TrainingOptions(), new Dictionary<string, string> { ["--layer-groups"] = Spafit });
        Assert.Equal(Spafit, o.LayerGroups);
        var yaml = TrainConfigFile.ParseYaml($"layer_groups: {Spafit}\n", "train.yaml");
        Assert.Equal(Spafit, yaml.LayerGroups);
        Assert.Equal(Spafit, TrainConfigFile.ParseYaml(TrainConfigFile.ToYaml(o), "config.yaml").LayerGroups);
    }

    [Fact]
    public void AModelWithoutBiasesTakesAdapterGroupsButNoBiasGroups()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        var e = Assert.Throws<PeftException>(() => TrainingMethods.Adapt(model, new TrainingOptions { LayerGroups = "0:bias,1:adapter" }, TaskKind.CausalLm, _ => { }));
        Assert.Equal("layer_groups: bias groups train bias terms, and this llama model has none in its layers", e.Message);
        var peft = TrainingMethods.Adapt(model, new TrainingOptions { LayerGroups = "0:frozen,1:adapter" }, TaskKind.CausalLm, _ => { })!;
        Assert.Equal([PeftModel.DefaultAdapter], peft.ActiveAdapters);
        Assert.All(peft.TrainableNamedParameters(), t => Assert.Equal(1, TargetSelector.LayerIndex(t.Name)));
    }

    [Fact]
    public void LnTuningTakesNoGroupsAndBitFitLeavesItsNormsAlone()
    {
        using var scope = NewDisposeScope();
        using var model = Tiny("bert");
        // PEFT's LN_TUNING has no layers_to_transform: refused in one line, before anything is wrapped.
        var e = Assert.Throws<PeftException>(() => TrainingMethods.Adapt(model, new TrainingOptions { Method = "ln-tuning", LayerGroups = Spafit }, TaskKind.SequenceClassification, _ => { }));
        Assert.StartsWith("layer_groups: the adapter groups put LN tuning into some layers only (layers_to_transform), which it cannot do: ", e.Message);
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains("base_layer"));

        // BitFit added to LN tuning: the tuned norms' copies hold their biases, so BitFit copies only the others.
        var peft = PeftModel.Create(model, TunerRegistry.Named("ln-tuning")!.CreateConfig(new MethodSettings()));
        peft.AddAdapter("b", TunerRegistry.Named("bitfit")!.CreateConfig(new MethodSettings()), inferTaskType: false);
        peft.SetActiveAdapters([PeftModel.DefaultAdapter, "b"], trainable: true);
        var names = peft.TrainableNamedParameters().Select(t => t.Name).ToList();
        Assert.Contains("bert.encoder.layer.2.output.LayerNorm.ln_tuning_layers.default.bias", names);
        Assert.DoesNotContain(names, n => n.Contains("LayerNorm.base_layer", StringComparison.Ordinal));
        Assert.Contains("bert.encoder.layer.2.output.dense.bias.b", names);
    }

    public static TheoryData<string> Architectures => new() { "gpt2", "bert" };

    private static PretrainedModel Tiny(string arch) => arch == "gpt2"
        ? TinyModels.Create(TinyModels.Gpt2(c => c["n_layer"] = 3), seed: 3)
        : TinyModels.Create(TinyModels.Bert(c =>
        {
            c["num_hidden_layers"] = 3;
            c["architectures"] = new JsonArray("BertForSequenceClassification");
        }), seed: 3);

    /// <summary>The base model's own name of a parameter: wrappers' "base_layer" segments and BitFit's copy suffix removed.</summary>
    private static string BaseName(string name) =>
        name.Replace(".base_layer", "", StringComparison.Ordinal).Replace(".bias." + LayerGroups.BiasAdapter, ".bias", StringComparison.Ordinal);

    [Theory]
    [MemberData(nameof(Architectures))]
    public void ExactlyTheGroupsParametersTrainAndASavedRunLoadsAndMerges(string arch)
    {
        using var scope = NewDisposeScope();
        using var model = Tiny(arch);
        var kind = arch == "gpt2" ? TaskKind.CausalLm : TaskKind.SequenceClassification;
        var batch = Batch(arch);
        var before = Snapshot(model);
        var baseBiases = model.named_parameters().Where(p => p.name.EndsWith(".bias", StringComparison.Ordinal)).ToList();
        var peft = TrainingMethods.Adapt(model, new TrainingOptions { Rank = 4, Dropout = 0, LayerGroups = Spafit }, kind, _ => { })!;
        Assert.Equal([PeftModel.DefaultAdapter, LayerGroups.BiasAdapter], peft.ActiveAdapters);

        // What trains: LoRA's factors in layer 2 only, a copy of every bias of layers 1 and 2, and BERT's new head.
        var trainable = peft.TrainableNamedParameters().ToList();
        var lora = trainable.Where(t => t.Name.Contains(".lora_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(lora);
        Assert.All(lora, t => Assert.Equal(2, TargetSelector.LayerIndex(t.Name)));
        var copies = trainable.Where(t => t.Name.EndsWith(".bias." + LayerGroups.BiasAdapter, StringComparison.Ordinal)).Select(t => BaseName(t.Name)).Order().ToList();
        var expectedBiases = baseBiases.Where(p => TargetSelector.LayerIndex(p.name) is 1 or 2).Select(p => p.name).Order().ToList();
        Assert.Equal(expectedBiases, copies);
        Assert.Contains(copies, c => c.Contains(arch == "gpt2" ? "h.2.attn.c_attn.bias" : "layer.2.attention.self.query.bias")); // under LoRA's wrapper too
        var head = trainable.Where(t => IsHead(t.Name)).ToList();
        Assert.Equal(arch == "bert" ? 32 * 2 + 2 : 0, head.Sum(t => t.Parameter.numel()));
        Assert.Equal(lora.Count + copies.Count + head.Count, trainable.Count);
        long expected = lora.Sum(t => t.Parameter.numel()) + baseBiases.Where(p => TargetSelector.LayerIndex(p.name) is 1 or 2).Sum(p => p.parameter.numel()) + head.Sum(t => t.Parameter.numel());
        Assert.Equal(expected, peft.TrainableParameters().Trainable);

        model.train();
        var optimizer = optim.Adam(trainable.Select(t => t.Parameter), lr: 1e-2);
        for (int step = 0; step < 5; step++)
        {
            using var stepScope = NewDisposeScope();
            optimizer.zero_grad();
            TrainingStep.ForwardBackward(model, kind, batch, 1.0);
            optimizer.step();
        }
        model.eval();
        foreach (var (name, p) in model.named_parameters())
        {
            if (IsHead(name) || name.Contains(".lora_", StringComparison.Ordinal)) continue;
            Assert.True(before.TryGetValue(BaseName(name), out var original), $"{name} is not a base parameter");
            bool isCopy = name.EndsWith(".bias." + LayerGroups.BiasAdapter, StringComparison.Ordinal);
            Assert.True(isCopy != Same(original, p), isCopy ? $"{arch}: the bias copy {name} did not train" : $"{arch}: {name} changed, but it is frozen");
        }
        Assert.Contains(lora, t => t.Name.Contains("lora_B", StringComparison.Ordinal) && t.Parameter.abs().sum().item<float>() > 0);
        var trained = Logits(model, batch);

        var dir = Directory.CreateTempSubdirectory("peft-groups-").FullName;
        try
        {
            peft.Save(dir);
            // The method's adapter is PEFT's files with layers_to_transform; the biases are BitFit's files in their subfolder.
            var config = JsonConfig.Load(Path.Combine(dir, PeftModel.ConfigFile));
            Assert.Equal("LORA", config.GetString("peft_type"));
            Assert.Equal([2], config.GetIntList("layers_to_transform"));
            using (var file = SafetensorsFile.Open(Path.Combine(dir, PeftModel.WeightsFile)))
                Assert.All(file.Keys, k => Assert.True(k.Contains(".lora_", StringComparison.Ordinal) || IsHead(k), k));
            var biasDir = Path.Combine(dir, LayerGroups.BiasAdapter);
            var biasConfig = JsonConfig.Load(Path.Combine(biasDir, PeftModel.ConfigFile));
            Assert.Equal(("BITFIT", "all"), (biasConfig.GetString("peft_type"), biasConfig.GetString("biases")));
            Assert.Equal([1, 2], biasConfig.GetIntList("layers_to_transform"));
            Assert.Null(biasConfig.GetString("task_type", null)); // the head is the first adapter's alone
            using (var file = SafetensorsFile.Open(Path.Combine(biasDir, PeftModel.WeightsFile)))
            {
                Assert.Equal(copies.Count, file.Keys.Count());
                Assert.Contains(AdapterKeys.Prefix + (arch == "gpt2" ? "transformer.h.2.attn.c_attn.base_layer.bias" : "bert.encoder.layer.2.attention.self.query.base_layer.bias"), file.Keys);
                Assert.Contains(AdapterKeys.Prefix + (arch == "gpt2" ? "transformer.h.1.attn.c_attn.bias" : "bert.encoder.layer.1.attention.self.query.bias"), file.Keys);
            }
            Assert.Contains("\"biases\"", File.ReadAllText(Path.Combine(dir, PeftModel.ActiveAdaptersFile)));

            using var fresh = Tiny(arch);
            var loaded = PeftModel.Load(fresh, dir);
            Assert.Equal([PeftModel.DefaultAdapter, LayerGroups.BiasAdapter], loaded.ActiveAdapters);
            Assert.True(Same(Logits(fresh, batch), trained), $"{arch}: the reloaded groups give other outputs");
            using (loaded.DisableAdapters())
                Assert.False(Logits(fresh, batch).allclose(trained, 1e-6, 1e-6), $"{arch}: disabled, the base alone computes");
            // The active-adapter list is a file like any other: a name that leaves the folder is refused in one line.
            using (var third = Tiny(arch))
            {
                var listed = Path.Combine(dir, PeftModel.ActiveAdaptersFile);
                var good = File.ReadAllText(listed);
                File.WriteAllText(listed, """{ "active_adapters": ["default", "../elsewhere"] }""");
                var e = Assert.Throws<PeftException>(() => PeftModel.Load(third, dir));
                Assert.Equal($"{listed}: \"active_adapters\" names \"../elsewhere\", which is not the name of a subfolder adapter", e.Message);
                File.WriteAllText(listed, good);
            }

            var merged = loaded.MergeAndUnload();
            Assert.DoesNotContain(merged.named_parameters(), p => p.name.Contains("base_layer") || p.name.Contains(".lora_"));
            var mergedLogits = Logits(fresh, batch);
            Assert.True(mergedLogits.allclose(trained, 1e-5, 1e-5), $"{arch}: merged differs by {mergedLogits.sub(trained).abs().max().item<float>():E3}");
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
