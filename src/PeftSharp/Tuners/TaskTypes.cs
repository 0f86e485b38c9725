namespace PeftSharp.Tuners;

/// <summary>
/// PEFT's task_type values and which one a transformers architecture implies, so that an adapter made from the
/// library records what it is for (as <c>get_peft_model</c> does when given a task) and tools can tell a causal
/// LM adapter from a classifier's without being told.
/// </summary>
public static class TaskTypes
{
    public const string CausalLm = "CAUSAL_LM";
    public const string SequenceClassification = "SEQ_CLS";
    public const string Seq2SeqLm = "SEQ_2_SEQ_LM";
    public const string FeatureExtraction = "FEATURE_EXTRACTION";

    /// <summary>
    /// The task_type of a transformers class name: *ForCausalLM and *LMHeadModel are causal LMs, *ForSequenceClassification
    /// classifiers, *ForConditionalGeneration (T5, BART) encoder-decoders, a bare *Model an encoder. Null when unknown.
    /// </summary>
    public static string? FromArchitecture(string architecture) => architecture switch
    {
        _ when architecture.EndsWith("ForCausalLM", StringComparison.Ordinal) || architecture.EndsWith("LMHeadModel", StringComparison.Ordinal) => CausalLm,
        _ when architecture.EndsWith("ForSequenceClassification", StringComparison.Ordinal) => SequenceClassification,
        _ when architecture.EndsWith("ForConditionalGeneration", StringComparison.Ordinal) || architecture.StartsWith("T5", StringComparison.Ordinal) => Seq2SeqLm,
        _ when architecture.EndsWith("Model", StringComparison.Ordinal) => FeatureExtraction,
        _ => null,
    };
}
