using static TorchSharp.torch;

namespace PeftSharp.Tests.Support;

/// <summary>
/// The project's parity measure: max |ours - ref| / (1 + |ref|), over positions whose attention mask
/// is 1 when the output has a position dimension matching the mask (padded positions are meaningless).
/// </summary>
public static class Parity
{
    public const double Tolerance = 1e-4;

    public static double MaxRelativeError(Tensor ours, Tensor reference, Tensor? mask = null)
    {
        Assert.Equal(reference.shape, ours.shape);
        using var scope = NewDisposeScope();
        var o = ours.to(ScalarType.Float64).cpu();
        var r = reference.to(ScalarType.Float64).cpu();
        var err = o.sub(r).abs().div(r.abs().add(1));
        if (mask is not null && err.dim() >= 2 && err.shape[0] == mask.shape[0] && err.shape[1] == mask.shape[1])
        {
            var m = mask.cpu().to(ScalarType.Float64);
            while (m.dim() < err.dim()) m = m.unsqueeze(-1);
            err = err.mul(m);
        }
        return err.max().item<double>();
    }
}
