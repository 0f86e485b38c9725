using System.CommandLine;
using PeftSharp.Models.Quantization;
using PeftSharp.Training;

namespace PeftSharp.Cli.Commands;

/// <summary>Options several commands share, defined once so their names and help stay consistent.</summary>
public static class CommonOptions
{
    public static Option<string> Model() => new("--model", "-m")
    {
        Description = "Hugging Face model folder (config.json + *.safetensors)",
        Required = true,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = "Torch device: cpu, cuda, cuda:1 (needs a CUDA TorchSharp package)",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<string> DType() => new("--dtype")
    {
        Description = "Compute dtype: float32 (default; the right choice on CPU), bfloat16, float16",
        DefaultValueFactory = _ => "float32",
    };

    /// <summary>A training option offered by another command under the same flag and help, so it is declared once (in TrainingOptions).</summary>
    public static Option<string?> FromSchema(string propertyName, string note)
    {
        var spec = TrainingSchema.Of(propertyName);
        return new Option<string?>("--" + spec.Flag) { Description = spec.HelpLine + note };
    }

    /// <summary>train's 4-bit base options (--quantize, --double-quant, --compute-dtype), for every command that loads a model.</summary>
    public static QuantizationOptions Quantization() => new(
        FromSchema(nameof(TrainingOptions.Quantize), ""),
        new Option<bool>("--" + TrainingSchema.Of(nameof(TrainingOptions.DoubleQuant)).Flag) { Description = TrainingSchema.Of(nameof(TrainingOptions.DoubleQuant)).HelpLine },
        FromSchema(nameof(TrainingOptions.ComputeDtype), ""));

    /// <summary>--weights: one number per --adapter (combine, merge).</summary>
    public static Option<string> Weights() => new("--weights", "-w")
    {
        Description = "One weight per --adapter, comma-separated, e.g. 0.6,0.5; a negative one subtracts (task negation: --weights=1,-0.5)",
    };

    public static double[] ParseWeights(string text) => text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
        .Select(s => double.TryParse(s, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v) && double.IsFinite(v) ? v
            : throw new PeftException($"--weights: \"{s}\" is not a number (give one weight per --adapter, e.g. --weights 0.6,0.5)")).ToArray();

    /// <summary>--row-adapters: one adapter name per batch row (multi-tenant serving: one base, many adapters, one batch).</summary>
    public static Option<string?> RowAdapters() => new("--row-adapters")
    {
        Description = "One adapter name per batch row, comma-separated (__base__: the base model alone), e.g. a,b,__base__; "
            + "names come from --adapter NAME=FOLDER (or default, adapter1, ...)",
    };

    public static string[]? ParseRowAdapters(string? text) =>
        text?.Split(',', StringSplitOptions.TrimEntries) is { } names ? (names.Any(n => n.Length == 0)
            ? throw new PeftException($"--row-adapters \"{text}\": an empty name; give one adapter name per row, e.g. a,b,__base__") : names) : null;

    public static Option<string[]> Adapters() => new("--adapter")
    {
        Description = "Adapter folder (adapter_config.json + adapter_model.safetensors), or NAME=FOLDER to name it (else the first is \"default\", then adapter1, ...); repeatable",
        AllowMultipleArgumentsPerToken = false,
    };
}

/// <summary>The three 4-bit options of a command and the <see cref="QuantizationConfig"/> they give (null: a float base).</summary>
public sealed record QuantizationOptions(Option<string?> Quantize, Option<bool> DoubleQuant, Option<string?> ComputeDtype)
{
    public void AddTo(Command command)
    {
        command.Options.Add(Quantize);
        command.Options.Add(DoubleQuant);
        command.Options.Add(ComputeDtype);
    }

    public QuantizationConfig? Read(ParseResult r) => QuantizationConfig.From(r.GetValue(Quantize), r.GetValue(DoubleQuant), r.GetValue(ComputeDtype));
}
