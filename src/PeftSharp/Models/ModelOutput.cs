using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// What a forward pass returns: logits plus the final hidden states under the names transformers
/// uses, so outputs can be written and compared with reference files key by key.
/// </summary>
public sealed class ModelOutput
{
    /// <summary>Head outputs: next-token logits, or class logits; null for a bare encoder such as BertModel.</summary>
    public Tensor? Logits { get; init; }
    /// <summary>BERT's pooled first-token representation.</summary>
    public Tensor? PoolerOutput { get; init; }
    /// <summary>Decoder-only and encoder-only models: the hidden state after the final norm.</summary>
    public Tensor? LastHiddenState { get; init; }
    public Tensor? EncoderLastHiddenState { get; init; }
    public Tensor? DecoderLastHiddenState { get; init; }

    /// <summary>The outputs by their transformers names, for writing to safetensors.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Named()
    {
        if (Logits is not null) yield return new("logits", Logits);
        if (PoolerOutput is not null) yield return new("pooler_output", PoolerOutput);
        if (LastHiddenState is not null) yield return new("last_hidden_state", LastHiddenState);
        if (EncoderLastHiddenState is not null) yield return new("encoder_last_hidden_state", EncoderLastHiddenState);
        if (DecoderLastHiddenState is not null) yield return new("decoder_last_hidden_state", DecoderLastHiddenState);
    }
}
