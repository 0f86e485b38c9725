using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

/// <summary>
/// Rotary position embedding computed as transformers computes it (inverse frequencies in float32,
/// angles = position * inv_freq, cos/sin duplicated over both halves), with linear, dynamic-NTK
/// and llama3 frequency scaling. Holds no tensors between calls, so it adds no state_dict entries.
/// </summary>
public sealed class RotaryEmbedding
{
    private readonly RopeConfig _rope;

    public RotaryEmbedding(RopeConfig rope) => _rope = rope;

    /// <summary>cos and sin of shape [batch, seq, dim] in the given dtype.</summary>
    public (Tensor Cos, Tensor Sin) Compute(Tensor positionIds, ScalarType dtype)
    {
        long seqLen = _rope.Type == "dynamic" ? positionIds.max().item<long>() + 1 : 0;
        var invFreq = InverseFrequencies(positionIds.device, seqLen);
        var angles = positionIds.to(ScalarType.Float32).unsqueeze(-1).mul(invFreq);   // [B,S,dim/2]
        var emb = cat([angles, angles], -1);
        return (emb.cos().to(dtype), emb.sin().to(dtype));
    }

    private Tensor InverseFrequencies(Device device, long seqLen)
    {
        double theta = _rope.Theta;
        int dim = _rope.Dim;
        if (_rope.Type == "dynamic" && seqLen > _rope.MaxPositions)
            theta *= Math.Pow(_rope.Factor * seqLen / _rope.MaxPositions - (_rope.Factor - 1), dim / (dim - 2.0));
        var exponents = arange(0, dim, 2, dtype: ScalarType.Int64, device: device).to(ScalarType.Float32).div(dim);
        var invFreq = pow(tensor(theta, dtype: ScalarType.Float32, device: device), exponents).reciprocal();
        switch (_rope.Type)
        {
            case "linear":
                return invFreq.div(_rope.Factor);
            case "llama3":
            {
                double lowWavelen = _rope.OriginalMaxPositions / _rope.LowFreqFactor;
                double highWavelen = _rope.OriginalMaxPositions / _rope.HighFreqFactor;
                var wavelen = invFreq.reciprocal().mul(2 * Math.PI);
                var scaled = where(wavelen.gt(lowWavelen), invFreq.div(_rope.Factor), invFreq);
                var smooth = wavelen.reciprocal().mul(_rope.OriginalMaxPositions).sub(_rope.LowFreqFactor)
                    .div(_rope.HighFreqFactor - _rope.LowFreqFactor);
                var smoothed = smooth.neg().add(1).mul(scaled).div(_rope.Factor).add(smooth.mul(scaled));
                var medium = wavelen.lt(highWavelen).logical_not().logical_and(wavelen.gt(lowWavelen).logical_not());
                return where(medium, smoothed, scaled);
            }
            default:
                return invFreq;
        }
    }

    /// <summary>Rotates x [batch, heads, seq, dim] by the angles in cos/sin [batch, seq, dim].</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        var c = cos.unsqueeze(1);
        var s = sin.unsqueeze(1);
        var halves = x.chunk(2, -1);
        var rotated = cat([halves[1].neg(), halves[0]], -1);
        return x.mul(c).add(rotated.mul(s));
    }
}
