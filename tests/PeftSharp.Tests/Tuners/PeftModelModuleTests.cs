using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>PeftModel used as a module: modes, parameters under PEFT's names, moves, and the forward with labels.</summary>
public class PeftModelModuleTests
{
    private static LoraConfig Config(double dropout = 0, params string[] targets)
    {
        var json = new JsonObject
        {
            ["peft_type"] = "LORA", ["r"] = 2, ["lora_alpha"] = 4, ["lora_dropout"] = dropout,
            ["target_modules"] = new JsonArray(targets.Select(t => (JsonNode)t).ToArray()),
        };
        return LoraConfig.Read(new JsonConfig(json, "test adapter_config.json"));
    }

    private static readonly long[,] Ids = { { 1, 2, 3, 4, 5 }, { 6, 7, 8, 9, 10 } };

    [Fact]
    public void NamedParametersArePeftsNames()
    {
        using var model = TinyModels.Create(TinyModels.Gpt2());
        var peft = PeftModel.Create(model, Config(0, "c_attn"));
        var names = peft.named_parameters().Select(p => p.name).ToList();
        Assert.All(names, n => Assert.StartsWith("base_model.model.", n));
        Assert.Contains("base_model.model.transformer.h.0.attn.c_attn.base_layer.weight", names);
        Assert.Contains("base_model.model.transformer.wte.weight", names);
        // What Python's PeftModel.named_parameters() yields with requires_grad for this config (PEFT 0.18.1).
        string[] expected = [.. new[] { 0, 1 }.SelectMany(l => new[] { "A", "B" }.Select(m => $"base_model.model.transformer.h.{l}.attn.c_attn.lora_{m}.default.weight"))];
        Assert.Equal(expected, peft.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).Order(StringComparer.Ordinal));
        Assert.Equal(peft.TrainableParameters().All, peft.parameters().Sum(p => p.numel()));
        Assert.Equal(peft.TrainableNamedParameters().Select(p => p.Parameter), peft.parameters().Where(p => p.requires_grad));
    }

    [Fact]
    public void TrainAndEvalReachEveryModuleAdaptersIncluded()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Gpt2());
        var peft = PeftModel.Create(model, Config(0.5, "c_attn"));
        Assert.Same(peft, peft.train());
        Assert.True(peft.training);
        Assert.All(model.named_modules(), m => Assert.True(m.module.training, $"{m.name} is not training"));
        var inputs = new ModelInputs { InputIds = tensor(Ids) };
        using (no_grad())
        {
            // LoRA's B starts at zero; make it count so that its dropout shows in the output.
            foreach (var (_, p) in peft.named_parameters().Where(p => p.name.Contains("lora_B"))) p.normal_(0, 1);
            Assert.False(peft.Forward(inputs).Logits!.allclose(peft.Forward(inputs).Logits!), "dropout in training mode: two passes differ");
            peft.eval();
            Assert.False(peft.training);
            Assert.All(model.named_modules(), m => Assert.False(m.module.training, $"{m.name} is still training"));
            Assert.True(peft.Forward(inputs).Logits!.allclose(peft.Forward(inputs).Logits!, 0, 0), "evaluation mode: two passes are equal");
        }
    }

    [Fact]
    public void ToDtypeMovesAdaptersAndUnloadStillRestoresTheBase()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Gpt2());
        var peft = PeftModel.Create(model, Config(0, "c_attn"));
        var trainable = peft.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Same(peft, peft.to(ScalarType.Float64));
        Assert.All(peft.parameters(), p => Assert.Equal(ScalarType.Float64, p.dtype));
        Assert.Equal(trainable, peft.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name));
        using (no_grad()) Assert.Equal(ScalarType.Float64, peft.Forward(new ModelInputs { InputIds = tensor(Ids) }).Logits!.dtype);
        var back = peft.Unload();
        // The base's parameters were replaced by the move; their original requires_grad (true) comes back all the same.
        Assert.All(back.named_parameters(), p => Assert.True(p.parameter.requires_grad, $"{p.name} stayed frozen"));
        Assert.DoesNotContain(back.named_parameters(), p => p.name.Contains("lora_"));
    }

    [Fact]
    public void ForwardWithLabelsReturnsTheShiftedLanguageModelLoss()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Gpt2());
        var peft = PeftModel.Create(model, Config(0, "c_attn"));
        var ids = tensor(Ids);
        var labels = ids.clone();
        labels[0, 1] = LabelLoss.IgnoreIndex;
        var output = peft.Forward(new ModelInputs { InputIds = ids, Labels = labels });
        // transformers' causal LM loss: logits[:, :-1] against labels[:, 1:], -100 not counted.
        var logits = output.Logits!.detach()[.., ..^1].reshape(-1, 100);
        var expected = nn.functional.cross_entropy(logits, labels[.., 1..].reshape(-1), ignore_index: -100);
        Assert.Equal(expected.item<float>(), output.Loss!.item<float>(), 5);
        output.Loss!.backward();
        Assert.All(peft.TrainableNamedParameters(), p => Assert.NotNull(p.Parameter.grad));
        Assert.Null(peft.Forward(new ModelInputs { InputIds = ids }).Loss);
        Assert.Equal(LabelLoss.IgnoreIndex, PeftSharp.Data.TokenizedExample.IgnoreIndex);
    }

    [Fact]
    public void ForwardWithLabelsScoresClassesAndSeq2SeqTokens()
    {
        using var scope = NewDisposeScope();
        using var classifier = TinyModels.Create(TinyModels.Bert(c => { c["architectures"] = new JsonArray("BertForSequenceClassification"); c["num_labels"] = 3; }));
        var peft = PeftModel.Create(classifier, Config(0, "query"));
        var classes = tensor(new long[] { 2, 0 });
        var output = peft.Forward(new ModelInputs { InputIds = tensor(Ids), Labels = classes });
        Assert.Equal(nn.functional.cross_entropy(output.Logits!, classes).item<float>(), output.Loss!.item<float>(), 5);

        using var t5 = TinyModels.Create(TinyModels.T5());
        var decoderIds = tensor(new long[,] { { 0, 4, 5 }, { 0, 6, 7 } });
        var targets = tensor(new long[,] { { 4, 5, 1 }, { 6, 7, 1 } });
        var seq2seq = t5.forward(new ModelInputs { InputIds = tensor(Ids), DecoderInputIds = decoderIds, Labels = targets });
        // Seq2seq labels are already aligned with the decoder's positions: no shift.
        var expected = nn.functional.cross_entropy(seq2seq.Logits!.reshape(-1, 100), targets.reshape(-1));
        Assert.Equal(expected.item<float>(), seq2seq.Loss!.item<float>(), 5);
    }

    [Fact]
    public void LabelsWithoutAHeadOrAsFloatsAreRefused()
    {
        using var scope = NewDisposeScope();
        using var encoder = TinyModels.Create(TinyModels.Bert());
        var e = Assert.Throws<PeftException>(() => encoder.forward(new ModelInputs { InputIds = tensor(Ids), Labels = tensor(new long[] { 0, 1 }) }));
        Assert.Contains("no head", e.Message);
        using var gpt2 = TinyModels.Create(TinyModels.Gpt2());
        e = Assert.Throws<PeftException>(() => gpt2.forward(new ModelInputs { InputIds = tensor(Ids), Labels = tensor(Ids).to(ScalarType.Float32) }));
        Assert.Contains("int64", e.Message);
    }
}
