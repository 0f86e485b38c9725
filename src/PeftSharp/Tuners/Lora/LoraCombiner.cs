using System.Globalization;
using PeftSharp.Models;
using PeftSharp.Tuners.Combination;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Lora;

/// <summary>
/// LoRA's add_weighted_adapter: adapters i with weights wᵢ, A [rᵢ, in], B [out, rᵢ] and scaling sᵢ at each module
/// become one LoRA of rank r and scaling 1 (lora_alpha = r, no rsLoRA):
/// <list type="bullet">
/// <item>cat: A = [w₁s₁A₁; w₂s₂A₂; ...], B = [B₁ B₂ ...], so BA = Σ wᵢsᵢBᵢAᵢ exactly; r = Σ rᵢ.</item>
/// <item>linear, ties, dare_*, magnitude_prune: the As and the Bs are combined separately (<see cref="TaskArithmetic"/>)
/// with weights sign(wᵢsᵢ)·√|wᵢsᵢ| for A and √|wᵢsᵢ| for B, so that one adapter alone gives wᵢsᵢBᵢAᵢ; equal ranks needed.</item>
/// <item>the SVD family: ΔW = rule(ΔWᵢ = sᵢBᵢAᵢ, wᵢ), then ΔW ≈ U S Vh truncated to r: B = U·S, A = Vh (and svd_clamp).</item>
/// </list>
/// Where PEFT 0.18.1 differs, this is the formula and PEFT is not: its SVD family weights by wᵢsᵢ (the scaling twice;
/// <see cref="AdapterCombination.Peft018SvdScaling"/> reproduces it), its non-SVD types put the sign on B as well (so a
/// negative weight does not negate), rsLoRA sources keep use_rslora (over-scaling the result by √r), and DoRA, lora_bias,
/// trained base biases and modules_to_save are silently dropped; here they are refused. A module only some adapters
/// adapt combines those; a rank below r is padded with zeros, which leaves BA unchanged.
/// </summary>
public sealed class LoraCombiner : IAdapterCombiner
{
    /// <summary>cat: BA = Σ wᵢsᵢBᵢAᵢ with no approximation.</summary>
    public CombinationType WeightedMerge => CombinationType.Cat;

    public PeftConfig CombinedConfig(nn.Module root, IReadOnlyList<CombinationSource> sources, AdapterCombination combination)
    {
        var configs = sources.Select(s => (s.Name, Config: (LoraConfig)s.Config)).ToList();
        foreach (var (name, c) in configs) Refuse(name, c);
        var layers = Layers(root);
        foreach (var (path, layer) in layers)
            foreach (var s in sources.Where(s => layer.AdapterNames.Contains(s.Name)))
                if (layer.InitialWeights(s.Name) != null)
                    throw new PeftException($"adapter \"{s.Name}\" holds a PiSSA/OLoRA residual form (its base was rewritten at {path}): "
                        + "save it (the portable form is a plain LoRA on the original base) and load that to combine it");

        int rank = NewRank(layers, sources, combination);
        var first = configs[0].Config.Copy();
        first.R = rank;
        first.LoraAlpha = rank;
        first.Patterns = RankAlphaPatterns.Empty;
        first.UseRsLora = false;
        first.UseDora = false;
        if (LoraInit.RewritesBase(first.InitLoraWeights)) first.InitLoraWeights = "true";
        first.Targets = TargetUnion.Of(layers.Select(l => (l.Path, (IAdapterLayer)l.Layer)), configs.Select(c => (c.Name, c.Config.Targets)).ToList());
        return first;
    }

    public void Fill(nn.Module root, string adapter, IReadOnlyList<CombinationSource> sources, AdapterCombination combination)
    {
        using var _ = no_grad();
        foreach (var (path, layer) in Layers(root))
        {
            if (!layer.AdapterNames.Contains(adapter)) continue;
            var present = sources.Where(s => layer.AdapterNames.Contains(s.Name)).ToList();
            if (present.Count == 0) continue;
            using var scope = NewDisposeScope();
            int rank = layer.RankOf(adapter);
            var (a, b) = Combine(path, layer, present, combination, rank);
            layer.SetWeights(adapter, Pad(a, rank, dim: 0), Pad(b, rank, dim: 1));
        }
    }

    private static List<(string Path, LoraLayer Layer)> Layers(nn.Module root) =>
        ModuleTree.NamedModules(root).Where(m => m.Module is LoraLayer).Select(m => (m.Name, (LoraLayer)m.Module)).ToList();

    /// <summary>What no LoRA of rank r and scaling 1 can hold: refused with the adapter's name and the reason.</summary>
    private static void Refuse(string name, LoraConfig c)
    {
        string? why = c.UseDora ? "uses DoRA: its magnitude vectors rescale the whole weight, which no combination of A and B represents"
            : c.LoraBias ? "has lora_bias (a bias on B), which a weighted LoRA cannot carry"
            : c.Bias != "none" ? $"trains the base model's biases (bias=\"{c.Bias}\"), which are not a low-rank update and cannot be weighted"
            : c.ModulesToSave is { Count: > 0 } m ? $"replaces whole modules (modules_to_save: {string.Join(", ", m)}), which cannot be weighted; "
                + "PEFT would give the combination fresh, untrained copies of them"
            : null;
        if (why != null) throw new PeftException($"adapter \"{name}\" cannot be combined: it {why}");
    }

    /// <summary>PEFT's rules: the common rank (equal-rank types), the sum of the ranks (cat), svd_rank or the largest rank (SVD family).</summary>
    private static int NewRank(List<(string Path, LoraLayer Layer)> layers, IReadOnlyList<CombinationSource> sources, AdapterCombination combination)
    {
        int RankOf(CombinationSource s) => layers.Where(l => l.Layer.AdapterNames.Contains(s.Name)).Select(l => l.Layer.RankOf(s.Name)).DefaultIfEmpty(0).Max();
        if (combination.Type.NeedsEqualRanks())
        {
            foreach (var (path, layer) in layers)
            {
                var ranks = sources.Where(s => layer.AdapterNames.Contains(s.Name)).Select(s => (s.Name, Rank: layer.RankOf(s.Name))).ToList();
                if (ranks.Select(r => r.Rank).Distinct().Count() > 1)
                    throw new PeftException($"combination {CombinationTypes.NameOf(combination.Type)} combines the A and the B matrices entry by entry, so the adapters "
                        + $"need equal ranks, but at {path} {string.Join(", ", ranks.Select(r => $"\"{r.Name}\" has r={r.Rank}"))}: use cat or an SVD type (svd, ties_svd, ...)");
            }
            return sources.Max(RankOf);
        }
        if (combination.Type == CombinationType.Cat) return sources.Sum(RankOf);
        return combination.SvdRank ?? sources.Max(RankOf);
    }

    private static (Tensor A, Tensor B) Combine(string path, LoraLayer layer, List<CombinationSource> present, AdapterCombination c, int rank)
    {
        var scalings = present.Select(s => layer.ScalingOf(s.Name)).ToList();
        var As = present.Select(s => layer.A(s.Name).weight.detach()).ToList();
        var Bs = present.Select(s => layer.B(s.Name).weight.detach()).ToList();
        string Key(string matrix, int i) => $"{path}|{matrix}|{present[i].Name}";
        if (c.Type == CombinationType.Cat)
            return (cat(As.Select((a, i) => a.to(ScalarType.Float32).mul(present[i].Weight * scalings[i])).ToList(), 0), cat(Bs.Select(b => b.to(ScalarType.Float32)).ToList(), 1));
        var rule = c.Type.Rule();
        double density = c.Density ?? 1;
        if (!c.Type.IsSvd())
        {
            var ws = present.Select((s, i) => s.Weight * scalings[i]).ToList();
            var wa = ws.Select(w => (w >= 0 ? 1 : -1) * Math.Sqrt(Math.Abs(w))).ToList();
            var wb = ws.Select(w => Math.Sqrt(Math.Abs(w))).ToList();
            return (TaskArithmetic.Combine(rule, As, wa, density, c.MajoritySignMethod, c.Seed, i => Key("lora_A", i)),
                    TaskArithmetic.Combine(rule, Bs, wb, density, c.MajoritySignMethod, c.Seed, i => Key("lora_B", i)));
        }
        var deltas = present.Select((_, i) => Bs[i].to(ScalarType.Float32).matmul(As[i].to(ScalarType.Float32)).mul(scalings[i])).ToList();
        var weights = present.Select((s, i) => c.Peft018SvdScaling ? s.Weight * scalings[i] : s.Weight).ToList();
        var delta = TaskArithmetic.Combine(rule, deltas, weights, density, c.MajoritySignMethod, c.Seed, i => Key("delta", i));
        return Truncate(delta, rank, c);
    }

    /// <summary>ΔW ≈ (U·S)[:, :k] Vh[:k] with k = min(r, rank of the SVD); svd_clamp clamps both to ± the q-quantile of their entries.</summary>
    private static (Tensor A, Tensor B) Truncate(Tensor delta, int rank, AdapterCombination c)
    {
        var (u, s, vh) = linalg.svd(delta, fullMatrices: c.SvdFullMatrices);
        long k = Math.Min(rank, s.shape[0]);
        var b = u[.., ..(int)k].mul(s[..(int)k]);
        var a = vh[..(int)k];
        if (c.SvdClamp is { } q)
        {
            var hi = Quantile(cat([b.flatten(), a.flatten()], 0), q);
            b = b.clamp(-hi, hi);
            a = a.clamp(-hi, hi);
        }
        return (a, b);
    }

    /// <summary>torch.quantile's default (linear interpolation between the two nearest order statistics).</summary>
    private static double Quantile(Tensor values, double q)
    {
        var sorted = values.sort().Values;
        long n = sorted.shape[0];
        double pos = q * (n - 1);
        long lo = (long)Math.Floor(pos), hi = Math.Min(lo + 1, n - 1);
        double vlo = sorted[lo].item<float>(), vhi = sorted[hi].item<float>();
        return vlo + (vhi - vlo) * (pos - lo);
    }

    /// <summary>t with zeros appended along dim up to rank (a rank below the config's r leaves BA unchanged).</summary>
    private static Tensor Pad(Tensor t, int rank, int dim)
    {
        long have = t.shape[dim];
        if (have == rank) return t;
        if (have > rank) throw new PeftException(string.Create(CultureInfo.InvariantCulture, $"internal: a combined rank {have} exceeds the new adapter's {rank}"));
        var shape = (long[])t.shape.Clone();
        shape[dim] = rank - have;
        return cat([t, zeros(shape, dtype: t.dtype, device: t.device)], dim);
    }
}
