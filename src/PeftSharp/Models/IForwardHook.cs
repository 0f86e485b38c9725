namespace PeftSharp.Models;

/// <summary>
/// Rewrites a model's inputs before its forward pass: the seam for methods that are not layer wrappers
/// (prompt tuning prepends virtual-token embeddings, prefix tuning adds per-layer keys and values).
/// <see cref="PretrainedModel"/> applies its hooks exactly once at each public entry point (forward,
/// <see cref="ILanguageModelHead.ForwardHidden"/>, <see cref="ILayeredModel.BeginLayers"/>,
/// <see cref="IEncoderDecoder.Encode"/>), so every path (training, evaluation, generation) sees the same inputs.
/// </summary>
public interface IForwardHook
{
    /// <summary>
    /// The inputs the model should compute with. A hook may replace InputIds by InputsEmbeds (using
    /// <see cref="PretrainedModel.InputEmbeddings"/>), extend AttentionMask (and TokenTypeIds), set
    /// <see cref="ModelInputs.Prefix"/> and shift explicit PositionIds. It must not mutate the given inputs.
    /// </summary>
    ModelInputs Prepare(PretrainedModel model, ModelInputs inputs);
}
