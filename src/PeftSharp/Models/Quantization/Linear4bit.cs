using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// A frozen linear layer whose weight stays 4-bit in memory, as bitsandbytes' Linear4bit on CPU: each forward dequantizes
/// (<see cref="FourBitQuantizer.Dequantize"/>, cast to the input's dtype) and computes y = x W^T + b
/// (torch.nn.functional.linear, what bitsandbytes' gemm_4bit does on CPU). The quantized state is held as buffers
/// (weight = packed uint8, absmax, and for double quantization nested_absmax and nested_code), so it moves with the
/// module; there is no weight parameter, so no gradient reaches it, while gradients flow to the input. The bias, when
/// there is one, is a frozen parameter. Not yet used by any model or tuner.
/// </summary>
public sealed class Linear4bit : nn.Module<Tensor, Tensor>
{
    private readonly FourBitType _type;
    private readonly int _blockSize;
    private readonly long[] _shape;
    private readonly ScalarType _dtype;
    private readonly int? _nestedBlockSize;
    private readonly float _offset;

    /// <summary>Takes the tensors of <paramref name="state"/> (the module owns them from here) and the bias, if any.</summary>
    public Linear4bit(QuantState state, Tensor? bias = null) : base(nameof(Linear4bit))
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Shape.Length != 2) throw new ArgumentException($"a linear weight is [out, in], not [{string.Join(", ", state.Shape)}]", nameof(state));
        _type = state.QuantType;
        _blockSize = state.BlockSize;
        _shape = (long[])state.Shape.Clone();
        _dtype = state.DType;
        register_buffer("weight", state.Packed);
        register_buffer("absmax", state.Absmax);
        if (state.Nested is { } nested)
        {
            register_buffer("nested_absmax", nested.Absmax);
            register_buffer("nested_code", nested.Code);
            _nestedBlockSize = nested.BlockSize;
            _offset = nested.Offset;
        }
        if (bias is not null)
        {
            if (bias.shape.Length != 1 || bias.shape[0] != _shape[0])
                throw new ArgumentException($"bias [{string.Join(", ", bias.shape)}] does not fit {_shape[0]} outputs", nameof(bias));
            register_parameter("bias", new Parameter(bias.detach().clone(), requires_grad: false));
        }
    }

    /// <summary>Quantizes a float linear layer's weight (the layer itself is left as it is).</summary>
    public static Linear4bit FromLinear(Linear linear, FourBitType type = FourBitType.Nf4, int blockSize = BlockSizes.Default, bool doubleQuant = false)
    {
        ArgumentNullException.ThrowIfNull(linear);
        using var _ = no_grad();
        return new Linear4bit(FourBitQuantizer.Quantize(linear.weight!, type, blockSize, doubleQuant), linear.bias);
    }

    public long InFeatures => _shape[1];
    public long OutFeatures => _shape[0];
    public FourBitType QuantType => _type;

    /// <summary>The dequantized weight, float32 [out, in] (bitsandbytes' value before the cast to a compute dtype).</summary>
    public Tensor DequantizedWeight()
    {
        var nested = _nestedBlockSize is { } nb
            ? new NestedAbsmax(get_buffer("nested_absmax")!, get_buffer("nested_code")!, nb, _offset)
            : null;
        // A view of the buffers, not an owner: it is not disposed.
        var state = new QuantState(get_buffer("weight")!, get_buffer("absmax")!, _type, _blockSize, _shape, _dtype, nested);
        return FourBitQuantizer.Dequantize(state);
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor weight;
        using (no_grad())
        {
            weight = DequantizedWeight();
            if (_dtype != ScalarType.Float32) weight = weight.to(_dtype);
            if (weight.dtype != x.dtype) weight = weight.to(x.dtype);
            if (weight.device != x.device) weight = weight.to(x.device);
        }
        var bias = get_parameter("bias");
        return nn.functional.linear(x, weight, bias).MoveToOuterDisposeScope();
    }
}
