namespace PeftSharp.Data;

/// <summary>
/// The shape of a task's labels, named after Hugging Face PEFT's task types (CAUSAL_LM, SEQ_CLS, SEQ_2_SEQ_LM) because
/// that is what decides how the collator pads labels and which loss the trainer computes.
/// </summary>
public enum TaskKind
{
    /// <summary>Labels aligned with input_ids, one per token (-100 where no loss); instruction tuning is this too.</summary>
    CausalLm,
    /// <summary>One class id per example.</summary>
    SequenceClassification,
    /// <summary>Labels are the target sequence, padded on their own; decoder inputs are the labels shifted right.</summary>
    Seq2SeqLm,
}
