using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Common;

/// <summary>
/// An output head that reuses the input embedding matrix (tie_word_embeddings). It owns no parameter,
/// so the shared weight appears once in named_parameters, is counted once and is updated once.
/// </summary>
public sealed class TiedLinear : nn.Module<Tensor, Tensor>
{
    private readonly Embedding _embedding;

    public TiedLinear(Embedding embedding) : base(nameof(TiedLinear)) => _embedding = embedding;

    public Tensor Weight => _embedding.weight!;

    /// <summary>x Eᵀ; a generated token's few rows go through <see cref="MatVecKernel"/>, the head being generation's largest read.</summary>
    public override Tensor forward(Tensor x) => MatVecKernel.Linear(x, _embedding.weight!);
}
