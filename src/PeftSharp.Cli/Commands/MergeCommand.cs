using System.CommandLine;
using PeftSharp.Models;
using PeftSharp.Models.Quantization;
using TorchSharp;

namespace PeftSharp.Cli.Commands;

/// <summary><c>peft merge</c>: fold adapters into the base weights and write a plain Hugging Face model folder.</summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = CommonOptions.Adapters();
        var output = new Option<string>("--out") { Description = "Folder for the merged model (must not exist or be empty)", Required = true };
        var quantization = CommonOptions.Quantization();
        quantization.Quantize.Description += ". Here: the 4-bit base the adapters were trained on; the merged model is written in full precision " +
            "(the dequantized base plus the adapters' change); with no --adapter, the dequantized base alone";
        var dtype = new Option<string>("--dtype") { Description = "The merged model's dtype: float32 (default) or float16, bfloat16", DefaultValueFactory = _ => "float32" };
        var cmd = new Command("merge", "Merge adapters into the base model and save it as a Hugging Face folder") { model, adapters, output, dtype };
        quantization.AddTo(cmd);
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapters) ?? [], r.GetValue(output)!, quantization.Read(r), r.GetValue(dtype))));
        return cmd;
    }

    private static int Run(string modelDir, string[] adapters, string outDir, QuantizationConfig? quantization, string? dtypeName)
    {
        if (adapters.Length == 0 && quantization == null)
            throw new PeftException("give --adapter (one or more) to merge; without one, merge only writes a 4-bit base dequantized (--quantize)");
        var dtype = Devices.ParseDType(dtypeName);
        using var model = BaseModelLoading.Load(modelDir, quantization: quantization);
        // A 4-bit weight cannot take the adapters' change in place: the layers go back to float, holding exactly the
        // values the 4-bit base computed with, and the merge is the float merge onto them.
        if (quantization != null)
            Console.Error.WriteLine($"peft: {ModelQuantizer.Dequantize(model)} linear layers of the {quantization} base dequantized; the merged model is written in {dtype.ToString().ToLowerInvariant()}");
        if (adapters.Length > 0)
        {
            var peft = AdapterLoading.Load(model, adapters, merge: false)!;
            peft.MergeAndUnload([.. peft.Configs.Keys]);
        }
        if (dtype != torch.ScalarType.Float32) model.to(dtype);
        ModelSaver.Save(model, outDir, modelDir);
        Console.WriteLine(adapters.Length > 0
            ? $"merged {adapters.Length} adapter(s) into {model.ArchitectureName}; wrote {Path.GetFullPath(outDir)}"
            : $"wrote the dequantized {model.ArchitectureName} to {Path.GetFullPath(outDir)}");
        return 0;
    }
}
