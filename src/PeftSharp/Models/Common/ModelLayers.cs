using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Common;

/// <summary>
/// Makes the linear layers of every architecture. Normally an nn.Linear with its Kaiming initialisation. Inside a
/// <see cref="WithoutInitialisation"/> scope the weight and bias are left as torch.empty, whose pages the system does not
/// commit until something writes them: a model about to be filled from a checkpoint and quantized layer by layer as it
/// loads (<see cref="Quantization.ModelQuantizer.WhileLoading"/>) then never holds its float weights all at once, because
/// each layer is written by the loader, quantized and freed before the next. Only for models whose every weight the
/// checkpoint fills: an uninitialised weight is garbage, so the loader's completeness check is what makes this safe.
/// </summary>
public static class ModelLayers
{
    [ThreadStatic] private static int _uninitialised;

    /// <summary>Linear layers made on this thread until the scope is disposed are left uninitialised.</summary>
    public static IDisposable WithoutInitialisation()
    {
        _uninitialised++;
        return new Scope();
    }

    /// <summary>True inside <see cref="WithoutInitialisation"/> on this thread.</summary>
    public static bool Uninitialised => _uninitialised > 0;

    /// <summary>y = x Wᵀ + b, W [out, in]; initialised as nn.Linear does unless <see cref="Uninitialised"/>.</summary>
    public static Linear Linear(long inFeatures, long outFeatures, bool hasBias = true)
    {
        if (!Uninitialised) return nn.Linear(inFeatures, outFeatures, hasBias);
        // Made on the meta device (shapes only, its initialisation a no-op), then given uncommitted CPU storage.
        var linear = nn.Linear(inFeatures, outFeatures, hasBias, device: new Device(DeviceType.META));
        linear.weight = new Parameter(empty(outFeatures, inFeatures));
        if (hasBias) linear.bias = new Parameter(empty(outFeatures));
        return linear;
    }

    private sealed class Scope : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            _uninitialised--;
        }
    }
}
