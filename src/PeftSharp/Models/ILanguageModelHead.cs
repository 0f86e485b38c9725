using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// A model whose vocabulary head can be applied separately from the body. The [batch, seq, vocab] logits are
/// the largest tensor of a language-model training step; with the head split off, the trainer computes the
/// loss a slice of positions at a time and never holds the full logits or their gradient.
/// </summary>
public interface ILanguageModelHead
{
    /// <summary>The hidden states the head reads (after the final norm and any scaling the model applies).</summary>
    Tensor ForwardHidden(ModelInputs inputs);

    /// <summary>The head as currently in the tree (an adapter may wrap it).</summary>
    nn.Module<Tensor, Tensor> LanguageModelHead { get; }
}
