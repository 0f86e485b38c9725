using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Common;

/// <summary>
/// The additive attention mask for one forward pass, built once and shared by all layers.
/// Masked positions get the dtype's most negative finite value, as transformers does, so a row with
/// nothing to attend to (a left-padding position) stays finite instead of becoming NaN.
/// When no mask is needed, Mask is null and IsCausal tells SDPA to apply the causal triangle itself,
/// which is the fast path for unpadded training batches.
/// </summary>
public readonly record struct AttentionBias(Tensor? Mask, bool IsCausal)
{
    /// <summary>Decoder self-attention: causal, padding-aware, optionally a sliding window (Mistral).</summary>
    /// <param name="pastLength">Key positions before the queries: a key/value prefix plus cached positions.</param>
    /// <param name="explicitMask">Always build the mask tensor (for attention that adds it to a bias itself).</param>
    /// <param name="prefixLength">How many of the past positions are a prefix (only for the error message).</param>
    public static AttentionBias Causal(Tensor? attentionMask, long queryLength, long pastLength, ScalarType dtype, Device device,
        long? slidingWindow = null, bool explicitMask = false, long prefixLength = 0)
    {
        long keyLength = pastLength + queryLength;
        bool windowMatters = slidingWindow is { } w && keyLength > w;
        if (!explicitMask && IsAllOnes(attentionMask) && !windowMatters)
        {
            if (queryLength == 1) return new AttentionBias(null, false);
            if (pastLength == 0) return new AttentionBias(null, true);
        }
        var q = arange(pastLength, keyLength, dtype: ScalarType.Int64, device: device).unsqueeze(1); // [Q,1]
        var k = arange(0, keyLength, dtype: ScalarType.Int64, device: device).unsqueeze(0);          // [1,K]
        var allowed = k.le(q);
        if (windowMatters) allowed = allowed.logical_and(q.sub(k).lt(slidingWindow!.Value));
        var allowed4 = allowed.unsqueeze(0).unsqueeze(0); // [1,1,Q,K]
        if (attentionMask is not null)
        {
            if (attentionMask.shape[1] != keyLength)
                throw new PeftException($"attention_mask has {attentionMask.shape[1]} positions but the model sees {keyLength} ({(prefixLength > 0 ? $"prefix {prefixLength} + " : "")}cached {pastLength - prefixLength} + new {queryLength})");
            allowed4 = allowed4.logical_and(attentionMask.to(device).ne(0).unsqueeze(1).unsqueeze(1));
        }
        return new AttentionBias(ToAdditive(allowed4, dtype), false);
    }

    /// <summary>Bidirectional attention (encoders): only padding is masked. Null mask when there is none.</summary>
    /// <param name="keyLength">When given, the mask must have this many positions (a prefix plus the tokens).</param>
    public static AttentionBias Padding(Tensor? attentionMask, ScalarType dtype, Device device, long? keyLength = null, long prefixLength = 0)
    {
        if (attentionMask is not null && keyLength is { } k && attentionMask.shape[1] != k)
            throw new PeftException($"attention_mask has {attentionMask.shape[1]} positions but the model sees {k} ({(prefixLength > 0 ? $"prefix {prefixLength} + " : "")}tokens {k - prefixLength})");
        if (IsAllOnes(attentionMask)) return new AttentionBias(null, false);
        var allowed = attentionMask!.to(device).ne(0).unsqueeze(1).unsqueeze(1); // [B,1,1,K]
        return new AttentionBias(ToAdditive(allowed, dtype), false);
    }

    private static Tensor ToAdditive(Tensor allowed, ScalarType dtype)
    {
        var zero = zeros(1, dtype: dtype, device: allowed.device);
        var min = full(1, MinValue(dtype), dtype: dtype, device: allowed.device);
        return where(allowed, zero, min);
    }

    private static bool IsAllOnes(Tensor? mask) => mask is null || mask.numel() == 0 || mask.min().item<long>() != 0;

    public static double MinValue(ScalarType dtype) => dtype switch
    {
        ScalarType.Float16 => -65504.0,
        ScalarType.BFloat16 => -3.3895313892515355e38,
        ScalarType.Float64 => double.MinValue,
        _ => float.MinValue,
    };
}
