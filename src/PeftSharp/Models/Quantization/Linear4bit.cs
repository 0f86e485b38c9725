using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// A frozen linear layer whose weight stays 4-bit in memory, as bitsandbytes' Linear4bit on CPU:
/// y = (x_c W_cᵀ + b_c) cast back to x's dtype, where x_c is x in the compute dtype (bnb_4bit_compute_dtype) and
/// W_c = dequantize(weight) (<see cref="FourBitQuantizer.Dequantize"/>) in it, a transient tensor made for the matmul
/// and dropped after it. The quantized state is held as buffers (weight = packed uint8, absmax, and for double
/// quantization nested_absmax and nested_code), so it moves with the module; there is no weight parameter, so no
/// gradient reaches it, while gradients flow to the input through <see cref="Matmul4bit"/>, which dequantizes again in
/// the backward pass instead of keeping W_c alive. Without autograd, a float32 input of at most
/// <see cref="FourBitKernels.MaxMatVecRows"/> rows (generation's one token) skips W_c altogether through
/// <see cref="FourBitKernels.MatVec"/>. The bias, when there is one, is a frozen parameter.
/// <see cref="ModelQuantizer"/> puts these in place of a model's linear layers.
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
            register_parameter("bias", new Parameter(bias.detach().clone().DetachFromDisposeScope(), requires_grad: false));
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
    public int BlockSize => _blockSize;
    public bool DoubleQuant => _nestedBlockSize != null;
    /// <summary>The dtype of the weight before quantization (adapters on this layer are made in it).</summary>
    public ScalarType OriginalDType => _dtype;
    /// <summary>True when the float layer it was made from stored its weight [in, out] (GPT-2's Conv1D), so dequantizing gives that layer back.</summary>
    public bool FanInFanOut { get; init; }
    /// <summary>The dtype of the matmul (bitsandbytes' compute_dtype); float32 unless set.</summary>
    public ScalarType ComputeDType { get; set; } = ScalarType.Float32;
    public Device Device => get_buffer("weight")!.device;
    public Parameter? Bias => get_parameter("bias");

    /// <summary>The non-tensor part of the layer's state, as bitsandbytes' quant_state JSON holds it.</summary>
    public QuantStateJson StateJson() => QuantStateJson.Of(_type, _blockSize, _dtype, _shape, _nestedBlockSize, _nestedBlockSize is null ? null : _offset);

    /// <summary>The dequantized weight, float32 [out, in] (bitsandbytes' value before the cast to a compute dtype).</summary>
    public Tensor DequantizedWeight() => FourBitQuantizer.Dequantize(StateView());

    /// <summary>The buffers seen as a <see cref="QuantState"/>: a view, not an owner, so it is never disposed.</summary>
    private QuantState StateView()
    {
        var nested = _nestedBlockSize is { } nb
            ? new NestedAbsmax(get_buffer("nested_absmax")!, get_buffer("nested_code")!, nb, _offset)
            : null;
        return new QuantState(get_buffer("weight")!, get_buffer("absmax")!, _type, _blockSize, _shape, _dtype, nested);
    }

    /// <summary>W_c: the dequantized weight [out, in] in the compute dtype, on <paramref name="device"/>, without autograd.</summary>
    /// <remarks>On the CPU in float32 compute this is a view of the thread's <see cref="DequantScratch"/>: the caller uses
    /// it for one matmul and drops it.</remarks>
    internal Tensor ComputeWeight(Device device)
    {
        using var _ = no_grad();
        var state = StateView();
        Tensor weight;
        if (device.type == DeviceType.CPU && FourBitKernels.CanDequantize(state))
        {
            using var scope = NewDisposeScope();
            var scales = state.Nested is null ? state.Absmax : FourBitQuantizer.BlockScales(state);
            weight = DequantScratch.View(_shape);
            FourBitKernels.DequantizeInto(state, scales, weight);
            weight = weight.dtype == ComputeDType ? weight : weight.to(ComputeDType);
            return weight.MoveToOuterDisposeScope();
        }
        weight = DequantizedWeight();
        if (weight.dtype != ComputeDType) weight = weight.to(ComputeDType);
        return weight.device == device ? weight : weight.to(device);
    }

    /// <summary>The forward arithmetic without autograd (<see cref="Matmul4bit"/> records the graph).</summary>
    internal Tensor Compute(Tensor x, bool withBias)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var bias = withBias ? Bias : null;
        var state = StateView();
        bool fewRows = x.dim() > 0 && x.shape[^1] > 0 && x.numel() / x.shape[^1] <= FourBitKernels.MaxMatVecRows;
        var x32 = !fewRows || x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
        if (fewRows && FourBitKernels.CanMatVec(state, x32))
        {
            // A few rows (a generated token): the fused kernel reads the 4-bit bytes and makes no float copy of W. It sums
            // in float32 whatever the compute dtype (bf16 compute would round W and x first): as exact, and faster.
            var scales = state.Nested is null ? state.Absmax : FourBitQuantizer.BlockScales(state);
            var y32 = FourBitKernels.MatVec(state, scales, x32, bias is null || bias.dtype == ScalarType.Float32 ? bias : bias.to(ScalarType.Float32));
            return (y32.dtype == x.dtype ? y32 : y32.to(x.dtype)).MoveToOuterDisposeScope();
        }
        var weight = ComputeWeight(x.device);
        var y = nn.functional.linear(x.dtype == ComputeDType ? x : x.to(ComputeDType), weight, bias is null || bias.dtype == ComputeDType ? bias : bias.to(ComputeDType));
        return (y.dtype == x.dtype ? y : y.to(x.dtype)).MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x) => Apply(x, withBias: true);

    /// <summary>x Wᵀ without the bias: the base layer's part DoRA rescales.</summary>
    public Tensor ForwardNoBias(Tensor x) => Apply(x, withBias: false);

    private Tensor Apply(Tensor x, bool withBias) =>
        is_grad_enabled() && x.requires_grad ? Matmul4bit.apply(x, this, withBias) : Compute(x, withBias);
}
