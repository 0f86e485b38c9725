using PeftSharp.Options;

namespace PeftSharp.Tuners.AdaLora;

/// <summary>
/// AdaLoRA's training options, PEFT's AdaLoraConfig fields under the same names (deltaT is spelled delta_t, as every key
/// here is snake_case; beta1/beta2 carry the method's name, since the core beta1/beta2 are AdamW's). lora_alpha,
/// lora_dropout and target_modules are the shared options; the shared rank is not used (init_r is the starting rank).
/// </summary>
public static class AdaLoraOptions
{
    public const string Method = "adalora";

    public static readonly MethodOption<int> InitR = new(Method, "init_r", 12,
        new OptionAttribute("AdaLoRA: rank every target starts with (the initial budget is init_r per module)") { Min = 1, Max = 4096 });

    public static readonly MethodOption<int> TargetR = new(Method, "target_r", 8,
        new OptionAttribute("AdaLoRA: average rank per module the budget is cut down to (target budget target_r per module)") { Min = 0, Max = 4096 });

    public static readonly MethodOption<int> Tinit = new(Method, "tinit", 0,
        new OptionAttribute("AdaLoRA: steps of warm-up before any rank is masked") { Min = 0 });

    public static readonly MethodOption<int> Tfinal = new(Method, "tfinal", 0,
        new OptionAttribute("AdaLoRA: last steps trained with the final rank pattern fixed") { Min = 0 });

    public static readonly MethodOption<int> DeltaT = new(Method, "delta_t", 1,
        new OptionAttribute("AdaLoRA: mask to the budget every this many steps during the budget phase (PEFT's deltaT)") { Min = 1, Aliases = ["deltat"] });

    public static readonly MethodOption<double> Beta1 = new(Method, "adalora_beta1", 0.85,
        new OptionAttribute("AdaLoRA: EMA factor of the sensitivity |p * grad| (PEFT's beta1)") { Min = 0, Max = 1, MinExclusive = true, MaxExclusive = true });

    public static readonly MethodOption<double> Beta2 = new(Method, "adalora_beta2", 0.85,
        new OptionAttribute("AdaLoRA: EMA factor of the uncertainty of the sensitivity (PEFT's beta2)") { Min = 0, Max = 1, MinExclusive = true, MaxExclusive = true });

    public static readonly MethodOption<double> OrthRegWeight = new(Method, "orth_reg_weight", 0.5,
        new OptionAttribute("AdaLoRA: weight of the orthogonal regulariser on A and B added to the loss") { Min = 0 });

    /// <summary>Null: the run's optimizer steps, resolved when training begins (PEFT requires a value; the saved config has it).</summary>
    public static readonly MethodOption<int?> TotalStep = new(Method, "total_step", null,
        new OptionAttribute("AdaLoRA: steps of the budget schedule; default: the run's optimizer steps") { Min = 1 }, nullable: true);

    public static IReadOnlyList<OptionSpec> All { get; } = [InitR, TargetR, Tinit, Tfinal, DeltaT, Beta1, Beta2, OrthRegWeight, TotalStep];
}
