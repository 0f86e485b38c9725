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

    public static Option<string[]> Adapters() => new("--adapter")
    {
        Description = "Adapter folder (adapter_config.json + adapter_model.safetensors); repeatable",
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
