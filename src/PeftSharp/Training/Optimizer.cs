using PeftSharp.IO.Safetensors;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// AdamW and SGD with momentum, written here rather than taken from TorchSharp so that their state is
/// plain named tensors: checkpoints store it in safetensors keyed by parameter name, and resuming
/// restores it exactly (TorchSharp's optimizers serialise to a format of their own).
/// </summary>
public abstract class Optimizer : IDisposable
{
    protected readonly Dictionary<string, Dictionary<string, Tensor>> State = new(StringComparer.Ordinal);
    /// <summary>Parameters updated at least once (loaded state counts).</summary>
    protected readonly HashSet<string> Started = new(StringComparer.Ordinal);

    protected Optimizer(IReadOnlyList<ParamGroup> groups) => Groups = groups;

    public IReadOnlyList<ParamGroup> Groups { get; }
    /// <summary>Optimizer steps taken.</summary>
    public long Steps { get; protected set; }

    public void ZeroGrad()
    {
        foreach (var g in Groups) foreach (var (_, p) in g.Parameters) p.grad?.zero_();
    }

    /// <summary>Float16 training's loss scaler (<see cref="LossScaler"/>), whose state the checkpoints carry; null otherwise.</summary>
    public LossScaler? Scaler { get; set; }

    /// <summary>
    /// Updates every parameter that has a gradient. With <see cref="Scaler"/> the gradients hold the scaled loss's, and
    /// are divided by the scale, in float32, on the way to the masters.
    /// </summary>
    /// <param name="gradientFactor">Multiplies the gradients on the way to float32 masters (gradient clipping done there,
    /// for float16); 1 otherwise.</param>
    public void Step(double gradientFactor = 1)
    {
        using var _ = no_grad();
        Steps++;
        double unscale = gradientFactor / (Scaler?.Scale ?? 1);
        foreach (var g in Groups)
            foreach (var (name, p) in g.Parameters)
                if (p.grad is { } grad)
                {
                    if (_masters.TryGetValue(name, out var master))
                    {
                        // Mixed precision: the update happens on the float32 master, the working copy gets it rounded.
                        using var scope = NewDisposeScope();
                        var g32 = grad.dtype == master.dtype ? grad : grad.to(master.dtype);
                        if (unscale != 1) g32 = g32.mul(unscale);
                        Update(g, name, master, g32, StateOf(name, master));
                        p.copy_(master);
                    }
                    else
                    {
                        Update(g, name, p, grad, StateOf(name, p));
                    }
                    Started.Add(name);
                }
    }

    /// <summary>Float32 master copies by parameter name, for parameters held in lower precision (<see cref="Precision"/>).</summary>
    private readonly Dictionary<string, Tensor> _masters = new(StringComparer.Ordinal);
    private readonly Dictionary<Tensor, Tensor> _masterOf = new(ReferenceEqualityComparer.Instance);

    /// <summary>
    /// Keeps a float32 master of each named parameter (its value given here, before the parameter was rounded to its
    /// lower-precision dtype): <see cref="Step"/> updates the master with the gradient converted to float32 and copies
    /// the result, rounded, into the parameter; the moments are float32 too. Checkpoints carry the masters
    /// (<see cref="StateTensors"/>), so a resume continues from the exact float32 values.
    /// </summary>
    public void UseMasterWeights(IReadOnlyDictionary<string, Tensor> float32Values)
    {
        ArgumentNullException.ThrowIfNull(float32Values);
        foreach (var g in Groups)
            foreach (var (name, p) in g.Parameters)
            {
                if (!float32Values.TryGetValue(name, out var value)) throw new ArgumentException($"no float32 value for parameter {name}", nameof(float32Values));
                if (!value.shape.SequenceEqual(p.shape)) throw new ArgumentException($"{name}: float32 value [{string.Join(", ", value.shape)}] for a parameter [{string.Join(", ", p.shape)}]", nameof(float32Values));
                using var _ = no_grad();
                var master = value.detach().to(ScalarType.Float32, p.device, copy: true).DetachFromDisposeScope();
                _masters[name] = master;
                _masterOf[p] = master;
            }
    }

    /// <summary>Whether parameters are updated through float32 masters.</summary>
    public bool HasMasterWeights => _masters.Count > 0;

    /// <summary>The float32 master of a parameter the optimizer updates (the same object as in its groups), or null.</summary>
    public Tensor? MasterOf(Tensor parameter) => _masterOf.GetValueOrDefault(parameter);

    protected abstract void Update(ParamGroup group, string name, Tensor p, Tensor grad, Dictionary<string, Tensor> state);
    protected abstract IReadOnlyList<string> StateNames { get; }

    private Dictionary<string, Tensor> StateOf(string name, Tensor p)
    {
        if (!State.TryGetValue(name, out var s))
        {
            s = StateNames.ToDictionary(n => n, _ => zeros_like(p).DetachFromDisposeScope());
            State[name] = s;
        }
        return s;
    }

    /// <summary>State tensors under "kind/parameter name", and the float32 masters under "master/parameter name".</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors() =>
        State.SelectMany(kv => kv.Value.Select(s => new KeyValuePair<string, Tensor>($"{s.Key}/{kv.Key}", s.Value)))
            .Concat(_masters.Select(kv => new KeyValuePair<string, Tensor>($"{MasterKey}/{kv.Key}", kv.Value)))
            .Concat(Scaler is { } s
                ? [new($"{ScalerKey}/scale", tensor(s.Scale, ScalarType.Float64)), new($"{ScalerKey}/good_steps", tensor((long)s.GoodSteps)),
                   new($"{ScalerKey}/skipped", tensor((long)s.Skipped))]
                : Array.Empty<KeyValuePair<string, Tensor>>());

    private const string ScalerKey = "scaler";

    private const string MasterKey = "master";

    /// <summary>Restores state saved by <see cref="StateTensors"/>; every parameter's state must be present with its shape.</summary>
    public void LoadState(ITensorSource source, long steps)
    {
        LoadMasters(source);
        if (Scaler is { } scaler)
        {
            using var scale = source.Load($"{ScalerKey}/scale");
            using var good = source.Load($"{ScalerKey}/good_steps");
            using var skipped = source.Load($"{ScalerKey}/skipped");
            if (scale.numel() != 1 || good.numel() != 1 || skipped.numel() != 1) throw new PeftException($"{source}: the loss scaler's state is not three scalars");
            scaler.Restore(scale.to(ScalarType.Float64).item<double>(), (int)good.to(ScalarType.Int64).item<long>(), (int)skipped.to(ScalarType.Int64).item<long>());
        }
        foreach (var g in Groups)
            foreach (var (name, p) in g.Parameters)
            {
                bool any = StateNames.Any(k => source.Contains($"{k}/{name}"));
                if (!any) continue; // never updated before the checkpoint (no gradient yet)
                var s = StateOf(name, _masters.GetValueOrDefault(name) ?? p);
                foreach (var k in StateNames)
                {
                    var key = $"{k}/{name}";
                    var entry = source.GetEntry(key);
                    if (!entry.Shape.SequenceEqual(p.shape)) throw new PeftException($"optimizer state {key} has shape [{string.Join(", ", entry.Shape)}], parameter has [{string.Join(", ", p.shape)}]");
                    using var loaded = source.Load(key, p.device, s[k].dtype);
                    using (no_grad()) s[k].copy_(loaded);
                }
                Started.Add(name);
            }
        Steps = steps;
    }

    /// <summary>
    /// Puts back the float32 masters saved with the state (every one must be there), and the parameters' working copies
    /// from them; nothing without master weights.
    /// </summary>
    public void LoadMasters(ITensorSource source)
    {
        ArgumentNullException.ThrowIfNull(source);
        foreach (var g in Groups)
            foreach (var (name, p) in g.Parameters)
            {
                if (!_masters.TryGetValue(name, out var master)) continue;
                var key = $"{MasterKey}/{name}";
                var entry = source.GetEntry(key);
                if (!entry.Shape.SequenceEqual(master.shape)) throw new PeftException($"optimizer state {key} has shape [{string.Join(", ", entry.Shape)}], parameter has [{string.Join(", ", p.shape)}]");
                using var loaded = source.Load(key, master.device, ScalarType.Float32);
                using (no_grad())
                {
                    master.copy_(loaded);
                    p.copy_(master);
                }
            }
    }

    public void Dispose()
    {
        foreach (var s in State.Values) foreach (var t in s.Values) t.Dispose();
        State.Clear();
        foreach (var m in _masters.Values) m.Dispose();
        _masters.Clear();
        _masterOf.Clear();
        GC.SuppressFinalize(this);
    }
}

/// <summary>Adam with decoupled weight decay (Loshchilov and Hutter), as torch.optim.AdamW.</summary>
public sealed class AdamW(IReadOnlyList<ParamGroup> groups, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8) : Optimizer(groups)
{
    protected override IReadOnlyList<string> StateNames => ["exp_avg", "exp_avg_sq"];

    protected override void Update(ParamGroup group, string name, Tensor p, Tensor grad, Dictionary<string, Tensor> state)
    {
        double lr = group.LearningRate;
        double bc1 = 1 - Math.Pow(beta1, Steps);
        double bc2 = 1 - Math.Pow(beta2, Steps);
        // Explicit Scalars, disposed after the last op that uses them: an implicit double-to-Scalar temporary can be
        // finalized by the GC while libtorch still reads it (the "toFloat at Scalar.h" crash seen under load).
        using var decay = (1 - lr * group.WeightDecay).ToScalar();
        using var b1 = beta1.ToScalar();
        using var oneMinusB1 = (1 - beta1).ToScalar();
        using var b2 = beta2.ToScalar();
        using var oneMinusB2 = (1 - beta2).ToScalar();
        using var sqrtBc2 = Math.Sqrt(bc2).ToScalar();
        using var epsilon = eps.ToScalar();
        using var step = (-lr / bc1).ToScalar();
        if (group.WeightDecay != 0) p.mul_(decay);
        var m = state["exp_avg"];
        var v = state["exp_avg_sq"];
        m.mul_(b1).add_(grad, alpha: oneMinusB1);
        v.mul_(b2).addcmul_(grad, grad, value: oneMinusB2);
        using var denom = v.sqrt().div_(sqrtBc2).add_(epsilon);
        p.addcdiv_(m, denom, value: step);
    }
}

/// <summary>SGD with momentum and (coupled) weight decay, as torch.optim.SGD.</summary>
public sealed class Sgd(IReadOnlyList<ParamGroup> groups, double momentum = 0.9) : Optimizer(groups)
{
    protected override IReadOnlyList<string> StateNames => momentum == 0 ? [] : ["momentum_buffer"];

    protected override void Update(ParamGroup group, string name, Tensor p, Tensor grad, Dictionary<string, Tensor> state)
    {
        using var scope = NewDisposeScope();
        using var decay = group.WeightDecay.ToScalar();
        var d = group.WeightDecay != 0 ? grad.add(p, alpha: decay) : grad;
        if (momentum != 0)
        {
            var buf = state["momentum_buffer"];
            // torch initialises the buffer with the first gradient, then buf = momentum * buf + d.
            using var mu = momentum.ToScalar();
            if (!Started.Contains(name)) buf.copy_(d); else buf.mul_(mu).add_(d);
            d = buf;
        }
        using var step = (-group.LearningRate).ToScalar();
        p.add_(d, alpha: step);
    }
}
