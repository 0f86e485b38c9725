using static TorchSharp.torch;

namespace PeftSharp.Generation;

/// <summary>
/// The logits transformations of transformers' generate(), in its order: repetition penalty, then
/// (when sampling) temperature, top-k and top-p. Each works on [batch, vocab] float logits.
/// </summary>
public static class LogitsProcessing
{
    /// <summary>Divides positive and multiplies negative logits of tokens already present by the penalty.</summary>
    public static Tensor RepetitionPenalty(Tensor logits, Tensor sequences, double penalty)
    {
        if (penalty == 1.0) return logits;
        var seen = logits.gather(1, sequences);
        var penalized = where(seen.lt(0), seen.mul(penalty), seen.div(penalty));
        return logits.scatter(1, sequences, penalized);
    }

    public static Tensor Temperature(Tensor logits, double temperature) =>
        temperature == 1.0 ? logits : logits.div(temperature);

    /// <summary>Keeps the k largest logits of each row.</summary>
    public static Tensor TopK(Tensor logits, int k)
    {
        if (k <= 0 || k >= logits.shape[1]) return logits;
        var kth = logits.topk(k, dim: 1).values[.., (k - 1)..k];
        return logits.masked_fill(logits.lt(kth), double.NegativeInfinity);
    }

    /// <summary>Keeps the smallest set of most likely tokens whose probability reaches p (at least one).</summary>
    public static Tensor TopP(Tensor logits, double p)
    {
        if (p >= 1.0) return logits;
        var (sorted, indices) = logits.sort(dim: 1, descending: false);
        var cumulative = sorted.softmax(1).cumsum(1);
        var remove = cumulative.le(1 - p);
        remove[.., -1] = tensor(false); // the most likely token always stays
        var removeOriginal = remove.scatter(1, indices, remove);
        return logits.masked_fill(removeOriginal, double.NegativeInfinity);
    }
}
