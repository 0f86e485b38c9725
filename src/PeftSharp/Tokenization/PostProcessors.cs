namespace PeftSharp.Tokenization;

/// <summary>
/// The post-processor step of Hugging Face's pipeline: the special tokens put around one sequence
/// ([CLS] A [SEP] for BERT, &lt;s&gt; A &lt;/s&gt; for RoBERTa, BOS A for Llama). Pairs are not needed here.
/// </summary>
internal interface IPostProcessor
{
    List<int> Apply(IReadOnlyList<int> ids);
}

/// <summary>
/// A single-sequence template: fixed ids before and after the sequence. TemplateProcessing, BertProcessing and
/// RobertaProcessing all reduce to this for one sequence.
/// </summary>
internal sealed class TemplatePostProcessor(IReadOnlyList<int> before, IReadOnlyList<int> after) : IPostProcessor
{
    public IReadOnlyList<int> Before { get; } = before;
    public IReadOnlyList<int> After { get; } = after;

    public List<int> Apply(IReadOnlyList<int> ids)
    {
        var result = new List<int>(Before.Count + ids.Count + After.Count);
        result.AddRange(Before);
        result.AddRange(ids);
        result.AddRange(After);
        return result;
    }
}

/// <summary>tokenizer.json Sequence of post-processors, applied in order.</summary>
internal sealed class SequencePostProcessor(IReadOnlyList<IPostProcessor> steps) : IPostProcessor
{
    public List<int> Apply(IReadOnlyList<int> ids)
    {
        var result = ids.ToList();
        foreach (var step in steps) result = step.Apply(result);
        return result;
    }
}
