using PeftSharp.Models;
using PeftSharp.Options;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.PromptLearning;
using PeftSharp.Tuners.PromptLearning.PromptTuning;
using PeftSharp.Tuners.PromptLearning.PTuning;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// The pieces that start or produce a prompt: P-tuning's LSTM encoder computes what torch.nn.LSTM (libtorch's own
/// kernel, the one PEFT runs) computes with the same weights, and its dropout acts only while training; prompt
/// tuning's TEXT init starts the virtual tokens at the word embeddings of the tokenizer's ids of the text, special
/// tokens included, tiled or cut to the number of virtual tokens, as PEFT does.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class PromptEncoderTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void TheLstmEncoderEqualsTorchLstm(int layers)
    {
        using var scope = NewDisposeScope();
        manual_seed(11);
        const int v = 7, dim = 12, hidden = 5;
        var tensors = LstmEncoder.Create(dim, hidden, layers, CPU).ToDictionary(t => t.Key, t => t.Initial);
        var x = randn(v, dim);

        using var lstm = nn.LSTM(dim, hidden, numLayers: layers, bidirectional: true, batchFirst: true);
        using (no_grad())
            foreach (var (name, p) in lstm.named_parameters()) p.copy_(tensors[LstmEncoder.Lstm + name]);
        lstm.eval();
        var (sequence, _, _) = lstm.forward(x.unsqueeze(0));
        var expected = nn.functional.linear(
            nn.functional.linear(sequence[0], tensors[LstmEncoder.Mlp[0] + ".weight"], tensors[LstmEncoder.Mlp[0] + ".bias"]).relu(),
            tensors[LstmEncoder.Mlp[1] + ".weight"], tensors[LstmEncoder.Mlp[1] + ".bias"]);

        var actual = LstmEncoder.Forward(tensors, x, layers, dropout: 0.5, training: false);
        Assert.Equal([v, dim], actual.shape);
        float diff = actual.sub(expected).abs().max().item<float>();
        Assert.True(diff < 1e-6f, $"{layers} layers: max |diff| {diff:E3}");
        Assert.Equal(4 * layers * 2 + 4, tensors.Count);
    }

    [Fact]
    public void LstmDropoutActsOnlyWhileTrainingAndOnlyBetweenLayers()
    {
        using var scope = NewDisposeScope();
        manual_seed(12);
        var t2 = LstmEncoder.Create(6, 4, 2, CPU).ToDictionary(t => t.Key, t => t.Initial);
        var x = randn(5, 6);
        var eval = LstmEncoder.Forward(t2, x, 2, dropout: 0.5, training: false);
        Assert.True(LstmEncoder.Forward(t2, x, 2, dropout: 0, training: true).allclose(eval, 0, 0));
        Assert.False(LstmEncoder.Forward(t2, x, 2, dropout: 0.5, training: true).allclose(eval, 0, 0));
        var t1 = LstmEncoder.Create(6, 4, 1, CPU).ToDictionary(t => t.Key, t => t.Initial);
        Assert.True(LstmEncoder.Forward(t1, x, 1, dropout: 0.5, training: true).allclose(LstmEncoder.Forward(t1, x, 1, 0.5, training: false), 0, 0));
    }

    [Theory]
    [InlineData(3)] // the text's 4 ids ([CLS] good movie [SEP]) cut to 3
    [InlineData(10)] // tiled: 4 + 4 + 2
    public void TextInitStartsAtTheTextsWordEmbeddings(int virtualTokens)
    {
        using var scope = NewDisposeScope();
        using var run = new TinyTrainingRun(examples: 8);
        var tokenizer = AutoTokenizer.FromFolder(run.ModelDir);
        using var model = AutoModel.FromPretrained(run.ModelDir);
        var options = OptionValues.Empty.With(PromptLearningOptions.NumVirtualTokens.Key, virtualTokens)
            .With(PromptTuningTuner.Init.Key, "TEXT").With(PromptTuningTuner.InitText.Key, "good movie");
        var settings = new MethodSettings { TaskType = "FEATURE_EXTRACTION", BaseModel = run.ModelDir, Options = options, Tokenize = text => tokenizer.Encode(text) };
        var config = (PromptTuningConfig)TunerRegistry.Named("prompt-tuning")!.CreateConfig(settings);
        Assert.Equal(run.ModelDir, config.TokenizerNameOrPath);
        var ids = tokenizer.Encode("good movie");
        Assert.Equal(4, ids.Count);
        Assert.Equal(tokenizer.ClsTokenId, ids[0]);

        var peft = PeftModel.Create(model, config);
        var prompt = peft.TrainableNamedParameters().Single(p => p.Name == PromptAdapter.SavedKey).Parameter;
        var expected = model.InputEmbeddings.weight!.index_select(0, tensor(Enumerable.Range(0, virtualTokens).Select(i => (long)ids[i % ids.Count]).ToArray()));
        Assert.True(prompt.allclose(expected, 0, 0));
    }

    [Fact]
    public void TextInitWithoutATextOrATokenizerIsOneClearError()
    {
        var tuner = TunerRegistry.Named("prompt-tuning")!;
        var text = OptionValues.Empty.With(PromptTuningTuner.Init.Key, "TEXT");
        var noText = Assert.Throws<PeftException>(() => tuner.CreateConfig(new MethodSettings { Options = text }));
        Assert.Contains("prompt_tuning_init_text", noText.Message);
        var noTokenizer = Assert.Throws<PeftException>(() => tuner.CreateConfig(new MethodSettings { Options = text.With(PromptTuningTuner.InitText.Key, "hello") }));
        Assert.Contains("tokenizer", noTokenizer.Message);
    }

    [Fact]
    public void TheTrainerStartsPromptTuningFromTheText()
    {
        using var run = new TinyTrainingRun(examples: 24);
        var options = TrainingSchema.Set(TrainingSchema.Set(TrainingSchema.Set(run.Options("prompt-tuning") with
        {
            Method = "prompt-tuning", MaxSteps = 2, Pooling = "mean",
        }, PromptLearningOptions.NumVirtualTokens, 6), PromptTuningTuner.Init, "TEXT"), PromptTuningTuner.InitText, "this movie is");
        var summary = new Trainer(options).Run();
        Assert.Equal("finished", summary.StopReason);
        var config = PeftSharp.IO.JsonConfig.Load(Path.Combine(summary.AdapterDir, PeftModel.ConfigFile));
        Assert.Equal("TEXT", config.GetString("prompt_tuning_init"));
        Assert.Equal("this movie is", config.GetString("prompt_tuning_init_text"));
        Assert.False(string.IsNullOrEmpty(config.GetString("tokenizer_name_or_path", null)));
    }
}
