using PeftSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Data;

/// <summary>
/// One padded batch as flat int64 arrays with their shapes, exactly what the tensors will hold, so a batch can be
/// inspected, compared and kept without touching native memory; <see cref="ToTensors"/> makes the tensors.
/// </summary>
public sealed class Batch
{
    internal Batch(TaskKind kind, int size, int sequenceLength, long[] inputIds, long[] attentionMask, long[] labels,
        long[] labelShape, long[]? decoderInputIds, IReadOnlyList<string> origins)
    {
        Kind = kind;
        Size = size;
        SequenceLength = sequenceLength;
        InputIds = inputIds;
        AttentionMask = attentionMask;
        Labels = labels;
        LabelShape = labelShape;
        DecoderInputIds = decoderInputIds;
        Origins = origins;
    }

    public TaskKind Kind { get; }
    public int Size { get; }
    public int SequenceLength { get; }
    /// <summary>[Size, SequenceLength], row after row.</summary>
    public long[] InputIds { get; }
    /// <summary>[Size, SequenceLength]: 1 for tokens, 0 for padding.</summary>
    public long[] AttentionMask { get; }
    /// <summary>[Size, SequenceLength] token labels (causal LM), [Size, target length] (seq2seq) or [Size] class ids.</summary>
    public long[] Labels { get; }
    public long[] LabelShape { get; }
    /// <summary>Seq2seq with a decoder start id configured: the labels shifted right, shaped like them.</summary>
    public long[]? DecoderInputIds { get; }
    /// <summary>"file:line" of each row's record, for error messages and debugging.</summary>
    public IReadOnlyList<string> Origins { get; }
    /// <summary>Where a <see cref="DataLoader"/> produced this batch; resuming after it starts at <see cref="LoaderPosition.Next"/>.</summary>
    public LoaderPosition Position { get; internal set; }

    /// <summary>Tokens that are not padding (for throughput).</summary>
    public long TokenCount => AttentionMask.Sum();

    /// <summary>Labels that take part in the loss (not -100); for classification, the batch size.</summary>
    public long LabelCount => Labels.LongCount(l => l != TokenizedExample.IgnoreIndex);

    /// <summary>Only the model inputs (evaluation, generation), as int64 tensors the caller disposes.</summary>
    public ModelInputs ToModelInputs(Device? device = null)
    {
        device ??= CPU;
        var shape = new long[] { Size, SequenceLength };
        return new ModelInputs
        {
            InputIds = tensor(InputIds, shape, ScalarType.Int64, device),
            AttentionMask = tensor(AttentionMask, shape, ScalarType.Int64, device),
            DecoderInputIds = DecoderInputIds is null ? null : tensor(DecoderInputIds, LabelShape, ScalarType.Int64, device),
        };
    }

    /// <summary>The model inputs and labels as int64 tensors on <paramref name="device"/>; the caller disposes them.</summary>
    public BatchTensors ToTensors(Device? device = null)
    {
        device ??= CPU;
        return new BatchTensors(ToModelInputs(device), tensor(Labels, LabelShape, ScalarType.Int64, device));
    }
}
