using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>LyCORIS-style regularisation (LoHa, LoKr): rank dropout drops whole rows of delta W; module dropout skips the adapter.</summary>
public static class RowDropout
{
    public static Tensor Apply(Tensor weight, double p, bool rescale)
    {
        var keep = rand(weight.shape[0], device: weight.device).gt(p).to(weight.dtype);
        if (rescale) keep = keep.div(keep.mean());
        return weight.mul(keep.unsqueeze(1));
    }

    public static bool SkipModule(bool training, double p) => training && p > 0 && rand(1).item<float>() <= p;
}
