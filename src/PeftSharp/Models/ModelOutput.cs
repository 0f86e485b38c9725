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
    /// <summary>The mean loss against <see cref="ModelInputs.Labels"/> (float32 scalar), when labels were given (<see cref="LabelLoss"/>).</summary>
    public Tensor? Loss { get; init; }

    /// <summary>This output with its loss; a copy, because outputs are immutable once returned.</summary>
    public ModelOutput WithLoss(Tensor loss) => new()
    {
        Logits = Logits, PoolerOutput = PoolerOutput, LastHiddenState = LastHiddenState,
        EncoderLastHiddenState = EncoderLastHiddenState, DecoderLastHiddenState = DecoderLastHiddenState, Loss = loss,
    };

    /// <summary>The outputs by their transformers names, for writing to safetensors.</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> Named()
    {
        if (Loss is not null) yield return new("loss", Loss);
        if (Logits is not null) yield return new("logits", Logits);
        if (PoolerOutput is not null) yield return new("pooler_output", PoolerOutput);
        if (LastHiddenState is not null) yield return new("last_hidden_state", LastHiddenState);
        if (EncoderLastHiddenState is not null) yield return new("encoder_last_hidden_state", EncoderLastHiddenState);
        if (DecoderLastHiddenState is not null) yield return new("decoder_last_hidden_state", DecoderLastHiddenState);
    }
}
