using static TorchSharp.torch;

namespace PeftSharp.Cli.Pretraining;

/// <summary>
/// The exact next-token cross-entropy of a tied-embedding LM whose embedding rows are zero for every token the corpus
/// never uses, computed over the corpus's tokens only.
///
/// With tied embeddings E (V x d) and no head bias, the logit of token v is z_v = h·E_v. If E_u = 0 for each of the
/// N_u tokens u outside the corpus vocabulary S, each of them has z_u = 0 and contributes exp(0) = 1 to the partition
/// function, so
///
///     loss(h, y) = log( Σ_{s∈S} exp(h·E_s) + N_u ) − z_y,    z_y = h·E_y if y ∈ S, else 0
///
/// which is one extra constant logit log(N_u) next to the |S| real ones: the full 50,257-way softmax, for a tenth of
/// the multiply-adds on a corpus of ~10,000 distinct tokens. The rows outside S get no gradient through this loss
/// (their input embeddings are never looked up either), so they stay exactly zero under AdamW, and the saved model is an
/// ordinary GPT-2 whose full-vocabulary loss is this loss (tested).
/// </summary>
public sealed class CorpusSoftmax : IDisposable
{
    private readonly Tensor _ids;      // [|S|] int64, the corpus vocabulary in ascending id order
    private readonly long[] _compact;  // full id -> index into _ids, or -1 outside S
    private readonly double _logUnseen;

    public CorpusSoftmax(IEnumerable<int> corpusTokenIds, int vocabularySize)
    {
        var ids = corpusTokenIds.Distinct().Order().ToArray();
        if (ids.Length == 0 || ids[0] < 0 || ids[^1] >= vocabularySize)
            throw new PeftException($"corpus token ids must lie in [0, {vocabularySize}) and not be empty");
        _compact = Enumerable.Repeat(-1L, vocabularySize).ToArray();
        for (int i = 0; i < ids.Length; i++) _compact[ids[i]] = i;
        _ids = tensor(ids.Select(i => (long)i).ToArray()).DetachFromDisposeScope();
        Unseen = vocabularySize - ids.Length;
        _logUnseen = Unseen > 0 ? Math.Log(Unseen) : double.NegativeInfinity;
    }

    /// <summary>Tokens of the vocabulary that the corpus never uses (their embedding rows must be zero).</summary>
    public long Unseen { get; }
    public int Size => (int)_ids.shape[0];
    public Tensor Ids => _ids;

    /// <summary>The summed loss over the rows of <paramref name="hidden"/> ([n, d]) whose targets ([n] full ids) are not -100.</summary>
    public Tensor SumLoss(Tensor hidden, Tensor embedding, Tensor targets)
    {
        using var scope = NewDisposeScope();
        var keep = targets.ne(-100);
        var rows = hidden.index(keep);
        var full = targets.index(keep);
        var compact = tensor(full.data<long>().Select(t => _compact[t]).ToArray());
        var logits = rows.matmul(embedding.index_select(0, _ids).t());                      // [m, |S|]
        var withUnseen = Unseen > 0 ? cat([logits, full_like(logits[.., ..1], _logUnseen)], 1) : logits;
        var partition = withUnseen.logsumexp(1);
        var seen = compact.ge(0);
        var target = logits.gather(1, compact.clamp_min(0).unsqueeze(1)).squeeze(1).mul(seen); // z_y, 0 outside S
        return partition.sub(target).sum().MoveToOuterDisposeScope();
    }

    /// <summary>Zeroes the embedding rows outside the corpus vocabulary, which makes <see cref="SumLoss"/> exact.</summary>
    public void ZeroUnseenRows(Tensor embedding)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var mask = ones(embedding.shape[0], dtype: ScalarType.Bool);
        mask.index_put_(tensor(false), _ids);
        embedding.index_put_(tensor(0f, dtype: embedding.dtype), mask);
    }

    public void Dispose() => _ids.Dispose();
}
