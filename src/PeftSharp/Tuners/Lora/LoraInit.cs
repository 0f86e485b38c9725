using System.Text.RegularExpressions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Lora;

/// <summary>
/// LoRA's initialisations, as PEFT defines them. PiSSA and OLoRA move the principal part of the base
/// weight into the adapter and leave the residual in the base, so the model's output is unchanged at step 0.
/// </summary>
public static class LoraInit
{
    private static readonly Regex PissaNiter = new(@"^pissa_niter_(\d+)$", RegexOptions.CultureInvariant);

    public static void Validate(string init, string source)
    {
        if (Problem(init) is { } problem) throw new PeftException($"{source}: {problem}");
    }

    /// <summary>Why an init_lora_weights value is not one we implement, or null when it is.</summary>
    public static string? Problem(string init) =>
        init is "true" or "false" or "gaussian" or "pissa" or "olora" || PissaNiter.IsMatch(init) ? null
            : $"init_lora_weights \"{init}\" is not supported (true, false, gaussian, pissa, pissa_niter_N, olora)";

    /// <summary>
    /// Whether the initialisation replaces the base weight W by the residual W - s B0 A0 (PiSSA, OLoRA): trained A, B
    /// then fit only that residual base, so saving converts them (<see cref="LoraResidualConversion"/>) and loading
    /// such a config re-derives the residual from the given base.
    /// </summary>
    public static bool RewritesBase(string init) => init is "pissa" or "olora" || PissaNiter.IsMatch(init);

    /// <summary>pissa_niter_N: PEFT factors W with a randomized SVD of N subspace iterations; we use an exact SVD.</summary>
    public static bool IsRandomizedSvd(string init) => PissaNiter.IsMatch(init);

    /// <summary>Initialises A [r, in] and B [out, r] in place; may rewrite the base weight (PiSSA, OLoRA).</summary>
    public static void Apply(string init, Linear a, Linear b, LinearBase baseLayer, int rank, double scaling)
    {
        using var _ = no_grad();
        switch (init)
        {
            case "false":
                return; // both keep nn.Linear's Kaiming-uniform init: a non-identity adapter, for tests
            case "true":
                nn.init.kaiming_uniform_(a.weight, a: Math.Sqrt(5));
                nn.init.zeros_(b.weight);
                break;
            case "gaussian":
                nn.init.normal_(a.weight, 0, 1.0 / rank);
                nn.init.zeros_(b.weight);
                break;
            default: // pissa, pissa_niter_N, olora
                var (a0, b0) = RewriteBase(init, baseLayer, rank, scaling);
                using (a0) using (b0)
                {
                    a.weight.copy_(a0);
                    b.weight.copy_(b0);
                }
                break;
        }
        if (b.bias is not null) nn.init.zeros_(b.bias);
    }

    /// <summary>
    /// PiSSA's or OLoRA's factors of the base weight W, A0 [r, in] and B0 [out, r], with the base rewritten to the residual
    /// W - s B0 A0. The factors are in the base's dtype and outside any dispose scope: the caller owns them.
    /// </summary>
    public static (Tensor A, Tensor B) RewriteBase(string init, LinearBase baseLayer, int rank, double scaling)
    {
        if (!RewritesBase(init)) throw new ArgumentException($"init_lora_weights {init} does not rewrite the base", nameof(init));
        using var _ = no_grad();
        using var scope = NewDisposeScope();
        var w = baseLayer.WeightOutIn().to(ScalarType.Float32);
        var (a0, b0) = init == "olora" ? Olora(w, rank) : Pissa(w, rank, scaling);
        baseLayer.SetWeight(w.sub(b0.matmul(a0).mul(scaling)).to(baseLayer.DType));
        var dtype = baseLayer.DType;
        return (a0.to(dtype).contiguous().DetachFromDisposeScope(), b0.to(dtype).contiguous().DetachFromDisposeScope());
    }

    private static (Tensor A, Tensor B) Pissa(Tensor w, int rank, double scaling)
    {
        // PEFT's pissa_niter_N uses a randomized SVD; an exact SVD gives the same factors without its approximation error.
        var (u, s, vh) = linalg.svd(w, fullMatrices: false);
        var sr = s[..rank].div(scaling).sqrt();
        return (sr.diag().matmul(vh[..rank]), u[.., ..rank].matmul(sr.diag()));
    }

    private static (Tensor A, Tensor B) Olora(Tensor w, int rank)
    {
        var (q, r) = linalg.qr(w);
        return (r[..rank], q[.., ..rank]);
    }
}
