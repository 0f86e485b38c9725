using PeftSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.Lora;

/// <summary>
/// Saving a PiSSA/OLoRA adapter for the original base. Their initialisation moved s B0 A0 out of the base weight
/// (W_res = W - s B0 A0), so the trained A, B fit only W_res; but W_res + s B A = W + s (B A - B0 A0) = W + s [B | -B0] [A ; A0],
/// an ordinary LoRA of rank 2r on W: lora_A' = [A ; A0] (2r x in), lora_B' = [B | -B0] (out x 2r), with r and rank_pattern
/// doubled and lora_alpha and alpha_pattern doubled (times sqrt 2 with rsLoRA) so that every module's scaling s is unchanged,
/// and init_lora_weights true. Any tool that knows LoRA then loads it onto the original model; a saved residual form only
/// works where the loader re-derives W_res (PEFT, PeftSharp), and only exactly where it uses the same factorisation.
/// </summary>
/// <remarks>
/// PEFT's own conversion (save_pretrained(path_initial_model_for_weight_conversion=...), subtract_mutated_init) keeps only
/// the tensors named lora_A / lora_B: it silently drops DoRA's lora_magnitude_vector and every modules_to_save tensor (a
/// classifier head), mishandles lora_B's bias (a 1-D tensor it concatenates along dim 1), and refuses rsLoRA together with rank or alpha patterns. Here every other
/// tensor is kept unchanged, which is exact: DoRA's magnitude is measured against the row norms of the adapted weight, and
/// W + s B'A' equals W_res + s B A; biases and heads do not depend on the base weight at all.
/// </remarks>
public static class LoraResidualConversion
{
    /// <summary>The adapter's config and saved tensors (PEFT's keys) as a plain LoRA on the original base.</summary>
    public static (PeftConfig Config, IReadOnlyDictionary<string, Tensor> Tensors) Convert(
        nn.Module root, string adapter, LoraConfig config, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var result = new Dictionary<string, Tensor>(tensors, StringComparer.Ordinal);
        using var _ = no_grad();
        foreach (var (path, module) in ModuleTree.NamedModules(root))
        {
            if (module is not LoraLayer layer || !layer.AdapterNames.Contains(adapter)) continue;
            if (layer.InitialWeights(adapter) is not { } initial)
                throw new PeftException($"adapter \"{adapter}\", module {path}: its {config.InitLoraWeights} initial weights are unknown, " +
                                        "so it cannot be converted for the original base; save it with save_residual_form");
            var keyA = AdapterKeys.ToSaved(path, $"lora_A.{adapter}.weight", adapter);
            var keyB = AdapterKeys.ToSaved(path, $"lora_B.{adapter}.weight", adapter);
            var a = result[keyA].detach();
            var b = result[keyB].detach();
            result[keyA] = cat([a, initial.A.to(a.dtype, a.device)], 0);
            result[keyB] = cat([b, initial.B.to(b.dtype, b.device).neg()], 1);
        }
        return (ConvertedConfig(config), result);
    }

    /// <summary>A copy with r, rank_pattern doubled and alpha, alpha_pattern scaled to keep alpha/r (alpha/sqrt(r) with rsLoRA).</summary>
    public static LoraConfig ConvertedConfig(LoraConfig config)
    {
        var c = config.Copy();
        double alphaFactor = c.UseRsLora ? Math.Sqrt(2) : 2;
        c.R *= 2;
        c.LoraAlpha *= alphaFactor;
        c.Patterns = new RankAlphaPatterns(
            c.Patterns.Rank.ToDictionary(kv => kv.Key, kv => kv.Value * 2, StringComparer.Ordinal),
            c.Patterns.Alpha.ToDictionary(kv => kv.Key, kv => kv.Value * alphaFactor, StringComparer.Ordinal));
        c.InitLoraWeights = "true";
        return c;
    }
}
