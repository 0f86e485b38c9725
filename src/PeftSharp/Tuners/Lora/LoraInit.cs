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
            case "olora":
                Olora(a, b, baseLayer, rank, scaling);
                break;
            default:
                Pissa(a, b, baseLayer, rank, scaling);
                break;
        }
        if (b.bias is not null) nn.init.zeros_(b.bias);
    }

    private static void Pissa(Linear a, Linear b, LinearBase baseLayer, int rank, double scaling)
    {
        using var scope = NewDisposeScope();
        var w = baseLayer.WeightOutIn().to(ScalarType.Float32);
        // PEFT's pissa_niter_N uses a randomized SVD; an exact SVD gives the same factors without its approximation error.
        var (u, s, vh) = linalg.svd(w, fullMatrices: false);
        var sr = s[..rank].div(scaling).sqrt();
        var newA = sr.diag().matmul(vh[..rank]);
        var newB = u[.., ..rank].matmul(sr.diag());
        a.weight.copy_(newA);
        b.weight.copy_(newB);
        baseLayer.SetWeight(w.sub(newB.matmul(newA).mul(scaling)).to(baseLayer.Weight.dtype));
    }

    private static void Olora(Linear a, Linear b, LinearBase baseLayer, int rank, double scaling)
    {
        using var scope = NewDisposeScope();
        var w = baseLayer.WeightOutIn().to(ScalarType.Float32);
        var (q, r) = linalg.qr(w);
        var newA = r[..rank].contiguous();
        var newB = q[.., ..rank].contiguous();
        a.weight.copy_(newA);
        b.weight.copy_(newB);
        baseLayer.SetWeight(w.sub(newB.matmul(newA).mul(scaling)).to(baseLayer.Weight.dtype));
    }
}
