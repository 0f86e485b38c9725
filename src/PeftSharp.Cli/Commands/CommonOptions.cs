using System.CommandLine;
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

    public static Option<string[]> Adapters() => new("--adapter")
    {
        Description = "Adapter folder (adapter_config.json + adapter_model.safetensors); repeatable",
        AllowMultipleArgumentsPerToken = false,
    };
}
