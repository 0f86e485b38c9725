using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

/// <summary>One small training batch per fixture architecture, and its loss kind, for the behaviour tests of the bottleneck, LN tuning and BitFit methods.</summary>
internal static class SmallMethodBatches
{
    public static TaskKind Kind(string arch) => arch switch
    {
        "bert" => TaskKind.SequenceClassification,
        "t5" => TaskKind.Seq2SeqLm,
        _ => TaskKind.CausalLm,
    };

    public static BatchTensors Batch(string arch)
    {
        var ids = TinyModels.Ids(new long[,] { { 5, 6, 7, 8, 9, 10 }, { 11, 12, 13, 14, 15, 16 } });
        var inputs = new ModelInputs { InputIds = ids, AttentionMask = ones_like(ids) };
        return arch switch
        {
            "bert" => new BatchTensors(inputs, tensor(new long[] { 0, 1 })),
            "t5" => new BatchTensors(inputs with { DecoderInputIds = TinyModels.Ids(new long[,] { { 0, 21, 22 }, { 0, 23, 24 } }) },
                TinyModels.Ids(new long[,] { { 21, 22, 1 }, { 23, 24, 1 } })),
            _ => new BatchTensors(inputs, ids),
        };
    }

    public static Tensor Logits(PretrainedModel model, BatchTensors batch)
    {
        using (no_grad()) return model.forward(batch.Inputs).Logits!;
    }

    /// <summary>Equal in every element (not within a tolerance).</summary>
    public static bool Same(Tensor a, Tensor b) => a.shape.SequenceEqual(b.shape) && a.eq(b).all().item<bool>();

    /// <summary>BERT's fixture is a classifier: as in PEFT its new head (64 -> 2) trains and is saved with the adapter.</summary>
    public static int HeadParameters(string arch) => arch == "bert" ? 64 * 2 + 2 : 0;

    public static bool IsHead(string name) => name.StartsWith("classifier.", StringComparison.Ordinal) || name.StartsWith("base_model.model.classifier.", StringComparison.Ordinal);

    public static Dictionary<string, Tensor> Snapshot(nn.Module model) =>
        model.named_parameters().ToDictionary(p => p.name, p => p.parameter.detach().clone());
}
