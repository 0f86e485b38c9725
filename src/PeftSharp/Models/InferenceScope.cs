using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// A model measured rather than trained: eval mode (no dropout, so two passes give the same bytes) and no gradients
/// until disposed, then the training flag it had is put back. For evaluations that run in the middle of training.
/// </summary>
public sealed class InferenceScope : IDisposable
{
    private readonly nn.Module _model;
    private readonly bool _wasTraining;
    private readonly IDisposable _noGrad;

    private InferenceScope(nn.Module model)
    {
        _model = model;
        _wasTraining = model.training;
        model.eval();
        _noGrad = no_grad();
    }

    public static InferenceScope Enter(nn.Module model) => new(model);

    public void Dispose()
    {
        _noGrad.Dispose();
        if (_wasTraining) _model.train();
    }
}
