using System.CommandLine;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Cli.Commands;

/// <summary><c>peft forward</c>: one forward pass on fixed inputs, written as float32 safetensors for comparison with transformers.</summary>
public static class ForwardCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = CommonOptions.Adapters();
        var merge = new Option<bool>("--merge") { Description = "Merge the adapters into the base weights before the forward pass" };
        var rows = CommonOptions.RowAdapters();
        var inputs = new Option<string>("--inputs") { Description = "inputs.json: input_ids, attention_mask, optional position_ids, token_type_ids, decoder_input_ids", Required = true };
        var output = new Option<string>("--out") { Description = "Output .safetensors file (logits and last hidden state(s), float32)", Required = true };
        var device = CommonOptions.Device();
        var dtype = CommonOptions.DType();
        var quantization = CommonOptions.Quantization();
        var cmd = new Command("forward", "Run one forward pass and write logits and hidden states") { model, adapters, merge, rows, inputs, output, device, dtype };
        quantization.AddTo(cmd);
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapters) ?? [], r.GetValue(merge),
            CommonOptions.ParseRowAdapters(r.GetValue(rows)), r.GetValue(inputs)!, r.GetValue(output)!, r.GetValue(device), r.GetValue(dtype), quantization.Read(r))));
        return cmd;
    }

    private static int Run(string modelDir, string[] adapters, bool merge, string[]? rowAdapters, string inputsPath, string outPath, string? deviceName, string? dtypeName,
        Models.Quantization.QuantizationConfig? quantization)
    {
        var device = Devices.Parse(deviceName);
        using var model = BaseModelLoading.Load(modelDir, device, Devices.ParseDType(dtypeName), quantization);
        if (rowAdapters != null && merge) throw new PeftException("--row-adapters gives each row its own adapter, and --merge puts the adapters into every row: choose one");
        var peft = AdapterLoading.Load(model, adapters, merge);
        if (rowAdapters != null && peft == null) throw new PeftException("--row-adapters names an adapter per row: load them with --adapter NAME=FOLDER");
        using var scope = NewDisposeScope();
        var inputs = ModelInputsFile.Load(inputsPath, model.InputEmbeddings.weight!.shape[0], device);
        long batch = (inputs.InputIds ?? inputs.InputsEmbeds!).shape[0];
        if (rowAdapters != null && rowAdapters.Length != batch)
            throw new PeftException($"--row-adapters names {rowAdapters.Length} adapter(s) for {batch} input row(s): give one per row");
        ModelOutput output;
        using (no_grad()) output = rowAdapters != null ? peft!.Forward(inputs, rowAdapters) : model.forward(inputs);
        SafetensorsWriter.Write(outPath, output.Named().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.to(ScalarType.Float32).cpu())));
        Console.Error.WriteLine($"wrote {string.Join(", ", output.Named().Select(kv => $"{kv.Key} [{string.Join(", ", kv.Value.shape)}]"))} to {outPath}");
        return 0;
    }
}
