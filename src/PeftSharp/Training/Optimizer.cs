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

    public void Step()
    {
        using var _ = no_grad();
        Steps++;
        foreach (var g in Groups)
            foreach (var (name, p) in g.Parameters)
                if (p.grad is { } grad)
                {
                    Update(g, name, p, grad, StateOf(name, p));
                    Started.Add(name);
                }
    }

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

    /// <summary>State tensors under "kind/parameter name".</summary>
    public IEnumerable<KeyValuePair<string, Tensor>> StateTensors() =>
        State.SelectMany(kv => kv.Value.Select(s => new KeyValuePair<string, Tensor>($"{s.Key}/{kv.Key}", s.Value)));

    /// <summary>Restores state saved by <see cref="StateTensors"/>; every parameter's state must be present with its shape.</summary>
    public void LoadState(ITensorSource source, long steps)
    {
        foreach (var g in Groups)
            foreach (var (name, p) in g.Parameters)
            {
                bool any = StateNames.Any(k => source.Contains($"{k}/{name}"));
                if (!any) continue; // never updated before the checkpoint (no gradient yet)
                var s = StateOf(name, p);
                foreach (var k in StateNames)
                {
                    var key = $"{k}/{name}";
                    var entry = source.GetEntry(key);
                    if (!entry.Shape.SequenceEqual(p.shape)) throw new PeftException($"optimizer state {key} has shape [{string.Join(", ", entry.Shape)}], parameter has [{string.Join(", ", p.shape)}]");
                    using var loaded = source.Load(key, p.device, p.dtype);
                    using (no_grad()) s[k].copy_(loaded);
                }
                Started.Add(name);
            }
        Steps = steps;
    }

    public void Dispose()
    {
        foreach (var s in State.Values) foreach (var t in s.Values) t.Dispose();
        State.Clear();
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
