using PeftSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Generation;

/// <summary>
/// Autoregressive generation for decoder-only and encoder-decoder models, with a KV cache. Rows may be
/// left-padded (the usual layout for batched prompts); positions then count real tokens only, as in
/// transformers. Token ids live in managed arrays between steps and every step runs in its own dispose
/// scope, so memory stays flat however many tokens are generated.
/// </summary>
public static class Generator
{
    /// <summary>Generates from prompts of any lengths: they are left-padded into one batch.</summary>
    public static long[][] Generate(PretrainedModel model, IReadOnlyList<IReadOnlyList<long>> prompts, GenerationOptions options)
    {
        if (prompts.Count == 0) return [];
        int width = prompts.Max(p => p.Count);
        if (width == 0) throw new PeftException("generation needs at least one prompt token per row");
        var ids = new long[prompts.Count, width];
        var mask = new long[prompts.Count, width];
        for (int r = 0; r < prompts.Count; r++)
        {
            int offset = width - prompts[r].Count;
            for (int c = 0; c < prompts[r].Count; c++) { ids[r, offset + c] = prompts[r][c]; mask[r, offset + c] = 1; }
            for (int c = 0; c < offset; c++) ids[r, c] = options.PadTokenId;
        }
        using var idsT = tensor(ids, dtype: ScalarType.Int64);
        using var maskT = tensor(mask, dtype: ScalarType.Int64);
        return Generate(model, idsT, maskT, options);
    }

    /// <summary>Generates from a padded batch; returns each row's new tokens, ending at its stop token if any.</summary>
    public static long[][] Generate(PretrainedModel model, Tensor inputIds, Tensor? attentionMask, GenerationOptions options)
    {
        options.Validate();
        using var outer = NewDisposeScope();
        var device = model.Device;
        int batch = (int)inputIds.shape[0];
        var prompt = ToRows(inputIds);
        var promptMask = attentionMask is null ? prompt.Select(r => r.Select(_ => 1L).ToArray()).ToArray() : ToRows(attentionMask);
        var generator = options.Seed is { } seed ? new torch.Generator((ulong)seed, device) : null;
        var produced = Enumerable.Range(0, batch).Select(_ => new List<long>()).ToArray();
        var finished = new bool[batch];
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var cache = options.UseCache ? new KVCache(model.LayerCount) : null;
            var encoderDecoder = model as IEncoderDecoder;
            var encoderMask = attentionMask?.to(device);
            var encoded = encoderDecoder?.Encode(new ModelInputs { InputIds = inputIds.to(device), AttentionMask = encoderMask });
            // The sequence the model continues: the prompt (decoder-only) or the decoder start token.
            var sequences = encoderDecoder is null
                ? prompt.Select(r => r.ToList()).ToArray()
                : Enumerable.Range(0, batch).Select(_ => new List<long> { encoderDecoder.DecoderStartTokenId }).ToArray();
            var masks = encoderDecoder is null ? promptMask.Select(r => r.ToList()).ToArray() : null;

            for (int step = 0; step < options.MaxNewTokens && !finished.All(f => f); step++)
            {
                using var scope = NewDisposeScope();
                int fed = cache is null || step == 0 ? sequences[0].Count : 1;
                var inputs = encoderDecoder is null
                    ? DecoderOnlyInputs(sequences, masks!, fed, cache, device)
                    : new ModelInputs
                    {
                        DecoderInputIds = Tail(sequences, fed, device),
                        EncoderLastHiddenState = encoded,
                        AttentionMask = encoderMask,
                        Cache = cache,
                    };
                var logits = model.forward(inputs).Logits![.., -1, ..].to(ScalarType.Float32);
                var history = Tail(sequences, sequences[0].Count, device);
                var next = NextTokens(logits, history, options, generator);
                for (int r = 0; r < batch; r++)
                {
                    long token = finished[r] ? options.PadTokenId : next[r];
                    if (!finished[r]) produced[r].Add(token);
                    sequences[r].Add(token);
                    masks?[r].Add(1);
                    if (options.StopTokenIds.Contains(token)) finished[r] = true;
                }
            }
            return produced.Select(p => p.ToArray()).ToArray();
        }
        finally
        {
            generator?.Dispose();
            if (wasTraining) model.train();
        }
    }

    private static long[] NextTokens(Tensor logits, Tensor history, GenerationOptions options, torch.Generator? generator)
    {
        logits = LogitsProcessing.RepetitionPenalty(logits, history, options.RepetitionPenalty);
        if (!options.DoSample) return logits.argmax(1).data<long>().ToArray();
        logits = LogitsProcessing.Temperature(logits, options.Temperature);
        logits = LogitsProcessing.TopK(logits, options.TopK);
        logits = LogitsProcessing.TopP(logits, options.TopP);
        return multinomial(logits.softmax(1), 1, generator: generator).squeeze(1).cpu().data<long>().ToArray();
    }

    /// <summary>Inputs for the next step; positions count only real tokens, so left padding does not shift them.</summary>
    private static ModelInputs DecoderOnlyInputs(List<long>[] sequences, List<long>[] masks, int fed, KVCache? cache, Device device)
    {
        var mask = Tail(masks, masks[0].Count, device);
        var positions = mask.cumsum(1).sub(1).masked_fill(mask.eq(0), 1);
        return new ModelInputs
        {
            InputIds = Tail(sequences, fed, device),
            AttentionMask = mask,
            PositionIds = positions[.., ^fed..],
            Cache = cache,
        };
    }

    private static Tensor Tail(List<long>[] rows, int count, Device device)
    {
        int width = rows[0].Count;
        var data = new long[rows.Length * count];
        for (int r = 0; r < rows.Length; r++) rows[r].CopyTo(width - count, data, r * count, count);
        return tensor(data, [rows.Length, count], dtype: ScalarType.Int64, device: device);
    }

    private static long[][] ToRows(Tensor t)
    {
        var flat = t.to(ScalarType.Int64).cpu().data<long>().ToArray();
        long cols = t.shape[1];
        return Enumerable.Range(0, (int)t.shape[0]).Select(r => flat.Skip((int)(r * cols)).Take((int)cols).ToArray()).ToArray();
    }
}
