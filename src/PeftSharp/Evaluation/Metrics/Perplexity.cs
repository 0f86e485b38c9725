namespace PeftSharp.Evaluation.Metrics;

/// <summary>
/// Perplexity as exp of the mean negative log-likelihood per non-masked token. Batches hold different numbers of
/// real tokens, so their mean losses are weighted by token count; averaging batch perplexities or unweighted batch
/// losses would give a different, wrong number.
/// </summary>
public sealed class Perplexity
{
    private double _nll;

    public long Tokens { get; private set; }

    /// <summary>Mean negative log-likelihood per token so far.</summary>
    public double MeanLoss => Tokens > 0 ? _nll / Tokens : throw new PeftException("perplexity needs at least one non-masked token");

    public double Value => Math.Exp(MeanLoss);

    /// <summary>
    /// Adds a batch given as a model's loss (the mean over its <paramref name="tokens"/> non-masked tokens).
    /// A fully masked batch (no tokens) is skipped, even though its loss is typically NaN.
    /// </summary>
    public void AddBatch(double meanLoss, long tokens) => AddSummed(tokens == 0 ? 0 : meanLoss * tokens, tokens);

    /// <summary>Adds a batch given as its summed negative log-likelihood.</summary>
    public void AddSummed(double summedNll, long tokens)
    {
        if (tokens < 0) throw new PeftException($"a token count cannot be negative ({tokens})");
        if (tokens == 0) return;
        if (!double.IsFinite(summedNll)) throw new PeftException($"the loss is not a finite number ({summedNll})");
        _nll += summedNll;
        Tokens += tokens;
    }

    public static double FromSummed(double summedNll, long tokens)
    {
        var p = new Perplexity();
        p.AddSummed(summedNll, tokens);
        return p.Value;
    }

    public static double FromBatches(IEnumerable<(double MeanLoss, long Tokens)> batches)
    {
        ArgumentNullException.ThrowIfNull(batches);
        var p = new Perplexity();
        foreach (var (loss, tokens) in batches) p.AddBatch(loss, tokens);
        return p.Value;
    }
}
