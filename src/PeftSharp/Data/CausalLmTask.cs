using PeftSharp.Tokenization;

namespace PeftSharp.Data;

/// <summary>
/// Language modelling on raw text: every document is tokenized, followed by EOS (so the model learns where documents
/// end), and the stream is cut into blocks of <see cref="BlockSize"/> tokens, as transformers' run_clm does, so no
/// step is spent on padding. Labels equal the input ids; the loss shifts them by one position.
/// Unlike run_clm, the last partial block is kept (the collator pads it and masks the padding), so no text is lost.
/// </summary>
public sealed class CausalLmTask : ITrainingTask
{
    private readonly ITextTokenizer _tokenizer;

    public CausalLmTask(ITextTokenizer tokenizer, int blockSize)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (blockSize < 2) throw new PeftException($"The block size must be at least 2 tokens, not {blockSize}.");
        _tokenizer = tokenizer;
        BlockSize = blockSize;
    }

    public TaskKind Kind => TaskKind.CausalLm;
    public int BlockSize { get; }
    public string TextField { get; init; } = "text";
    /// <summary>Pack documents into full blocks (default); when false, each document is one example cut at BlockSize.</summary>
    public bool Pack { get; init; } = true;

    public IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, DataIssueLog issues)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(issues);
        var names = RecordFields.Candidates(TextField, "text", "sentence");
        int? eos = _tokenizer.EosTokenId;
        var examples = new List<TokenizedExample>();
        var buffer = new List<int>();
        // Documents not yet fully cut into blocks, by the absolute offset of their first token, to name the record a
        // block starts in.
        var starts = new List<(long Offset, DataRecord Record)>();
        long emitted = 0; // tokens already cut from the front of the buffer

        foreach (var record in records)
        {
            var text = RecordFields.Text(record, names, issues);
            if (text is null) continue;
            var ids = _tokenizer.Encode(text, addSpecialTokens: true).ToList();
            if (eos is { } e && (ids.Count == 0 || ids[^1] != e)) ids.Add(e);
            if (!Pack)
            {
                var cut = ids.Take(BlockSize).ToArray();
                examples.Add(new TokenizedExample { InputIds = cut, Labels = cut, Source = record.Source, Line = record.Line });
                continue;
            }
            starts.Add((emitted + buffer.Count, record));
            buffer.AddRange(ids);
            while (buffer.Count >= BlockSize) Emit(BlockSize);
        }
        if (Pack && buffer.Count > 0) Emit(buffer.Count);
        return examples;

        void Emit(int length)
        {
            while (starts.Count > 1 && starts[1].Offset <= emitted) starts.RemoveAt(0);
            var origin = starts[0].Record;
            var block = buffer.GetRange(0, length).ToArray();
            buffer.RemoveRange(0, length);
            emitted += length;
            examples.Add(new TokenizedExample { InputIds = block, Labels = block, Source = origin.Source, Line = origin.Line });
        }
    }
}
