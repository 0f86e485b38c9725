using PeftSharp.Options;

namespace PeftSharp.Tuners.Lora;

/// <summary>LoRA's own training options (rank, alpha, dropout and targets are shared by several methods and live in the core options).</summary>
public static class LoraOptions
{
    public static readonly MethodOption<bool> UseRsLora = new("lora", "use_rslora", false,
        new OptionAttribute("rsLoRA: scale the update by alpha/sqrt(r) instead of alpha/r (stabler at high ranks)"));

    public static readonly MethodOption<bool> UseDora = new("lora", "use_dora", false,
        new OptionAttribute("DoRA: weight-decomposed LoRA, a trained magnitude per output times the adapted direction"));

    public static readonly MethodOption<string> InitLoraWeights = new("lora", "init_lora_weights", "true",
        new OptionAttribute("Initialisation: true (Kaiming A, zero B), false (both random), gaussian, pissa, pissa_niter_N, olora"),
        check: LoraInit.Problem);

    /// <summary>Read into <see cref="LoraConfig.SaveResidualForm"/>; a choice about the saved files, not written into them.</summary>
    public static readonly MethodOption<bool> SaveResidualForm = new("lora", "save_residual_form", false,
        new OptionAttribute("PiSSA/OLoRA only: save A, B as trained with init_lora_weights kept; they fit only the residual base, " +
            "which PEFT and PeftSharp re-derive at load but other tools cannot (default: save a plain LoRA of rank 2r for the original base)"));

    public static IReadOnlyList<OptionSpec> All { get; } = [UseRsLora, UseDora, InitLoraWeights, SaveResidualForm];
}
