using System.CommandLine;
using System.Globalization;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Models.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft merge</c>: fold adapters into the base weights and write a plain Hugging Face model folder. Onto a 4-bit
/// base (--quantize, or a bitsandbytes 4-bit checkpoint) the merge is written in full precision by default: the
/// dequantized base plus the adapters' change, which computes what the 4-bit base with the adapters computes. With
/// --requantize the merged weights are quantized again and written in bitsandbytes' 4-bit layout; that changes the
/// outputs (the merged weights are rounded to the 4-bit grid again), so the change is measured and printed, with a warning when it is large.
/// </summary>
public static class MergeCommand
{
    /// <summary>Probe positions for the --requantize measurement: 2 sequences of 32 seeded random tokens.</summary>
    private const int ProbeRows = 2, ProbeLength = 32;

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = CommonOptions.Adapters();
        var output = new Option<string>("--out") { Description = "Folder for the merged model (must not exist or be empty)", Required = true };
        var quantization = CommonOptions.Quantization();
        quantization.Quantize.Description += ". Here: the 4-bit base the adapters were trained on; the merged model is written in full precision " +
            "(the dequantized base plus the adapters' change) unless --requantize; with no --adapter, the dequantized base alone";
        var dtype = new Option<string>("--dtype") { Description = "The merged model's dtype: float32 (default) or float16, bfloat16", DefaultValueFactory = _ => "float32" };
        var requantize = new Option<bool>("--requantize")
        {
            Description = "Onto a 4-bit base: quantize the merged weights again and write a bitsandbytes 4-bit checkpoint (4x smaller; "
                + "outputs change slightly, and the change is measured and printed)",
        };
        var weights = CommonOptions.Weights();
        weights.Description += ". Here: the base gets Σ wᵢ·(adapter i's change), exactly for LoRA (default: every weight 1)";
        var cmd = new Command("merge", "Merge adapters into the base model and save it as a Hugging Face folder") { model, adapters, weights, output, dtype, requantize };
        quantization.AddTo(cmd);
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapters) ?? [], r.GetValue(weights) is { } w ? CommonOptions.ParseWeights(w) : null,
            r.GetValue(output)!, quantization.Read(r), r.GetValue(dtype), r.GetValue(requantize))));
        return cmd;
    }

    private static int Run(string modelDir, string[] adapters, double[]? weights, string outDir, QuantizationConfig? quantization, string? dtypeName, bool requantize)
    {
        var dtype = Devices.ParseDType(dtypeName);
        if (weights != null && weights.Length != adapters.Length)
            throw new PeftException($"{weights.Length} weight(s) for {adapters.Length} adapter(s): give one weight per --adapter, in the same order");
        AtomicFolder.RequireEmpty(outDir);
        using var model = BaseModelLoading.Load(modelDir, quantization: quantization);
        var fourBit = ModelQuantizer.Layers(model).Select(l => l.Layer).ToList();
        if (adapters.Length == 0 && fourBit.Count == 0)
            throw new PeftException("give --adapter (one or more) to merge; without one, merge only writes a 4-bit base dequantized (--quantize, or a 4-bit checkpoint)");
        if (requantize && fourBit.Count == 0)
            throw new PeftException("--requantize quantizes the merge again onto a 4-bit base, and this base is not 4-bit: give --quantize nf4|fp4 (as in training) or a 4-bit checkpoint");
        if (requantize && dtype == ScalarType.Float64)
            throw new PeftException("--requantize writes 4-bit weights dequantized to float32, float16 or bfloat16, not float64");
        var again = fourBit.Count > 0 ? new QuantizationConfig(fourBit[0].QuantType, fourBit[0].DoubleQuant, fourBit[0].ComputeDType) { BlockSize = fourBit[0].BlockSize } : null;
        // What the merge must reproduce: the 4-bit base with the adapters unmerged, on seeded probe tokens (a second copy
        // of the 4-bit base, so the merge below starts from a model no adapter has touched).
        Tensor? reference = null;
        if (requantize)
        {
            using var twin = BaseModelLoading.Load(modelDir, quantization: quantization);
            if (adapters.Length > 0) Weighted(AdapterLoading.Load(twin, adapters, merge: false)!, adapters, weights);
            reference = Probe(twin).DetachFromDisposeScope();
        }
        using var referenceOwner = reference;

        // A 4-bit weight cannot take the adapters' change in place: the layers go back to float, holding exactly the
        // values the 4-bit base computed with, and the merge is the float merge onto them.
        if (fourBit.Count > 0)
            Console.Error.WriteLine($"peft: {ModelQuantizer.Dequantize(model)} linear layers of the {again} base dequantized; the merged model is written "
                + (requantize ? $"in 4 bits again ({again})" : $"in {dtype.ToString().ToLowerInvariant()}"));
        if (adapters.Length > 0)
        {
            var peft = AdapterLoading.Load(model, adapters, merge: false)!;
            peft.MergeAndUnload(Weighted(peft, adapters, weights));
        }
        if (dtype != ScalarType.Float32) model.to(dtype);
        if (requantize)
        {
            using var fullPrecision = Probe(model).DetachFromDisposeScope();
            ModelQuantizer.Quantize(model, again!);
            using var requantized = Probe(model).DetachFromDisposeScope();
            var (text, relative) = Difference(requantized, reference!);
            Console.Error.WriteLine("peft: re-quantizing the merged weights changes the outputs (they are rounded to the 4-bit grid again): "
                + $"against the 4-bit base with the adapter(s), on {ProbeRows * ProbeLength} probe tokens, {text}; "
                + $"the full-precision merge (without --requantize) differs by {Difference(fullPrecision, reference!).Text}");
            if (relative > LargeChange)
                Console.Error.WriteLine($"peft: warning: that change is large (over {LargeChange:P0} of the mean output): keep the full-precision merge "
                    + "(leave out --requantize), or serve the 4-bit base with the adapter unmerged");
        }
        ModelSaver.Save(model, outDir, modelDir);
        Console.WriteLine(adapters.Length > 0
            ? $"merged {adapters.Length} adapter(s) into {model.ArchitectureName}{(requantize ? $" and quantized it again ({again})" : "")}; wrote {Path.GetFullPath(outDir)}"
            : requantize ? $"wrote the {again} {model.ArchitectureName} to {Path.GetFullPath(outDir)}"
            : $"wrote the dequantized {model.ArchitectureName} to {Path.GetFullPath(outDir)}");
        return 0;
    }

    /// <summary>
    /// The adapters to merge: all of them, or with --weights their weighted sum, added as one adapter by the method's
    /// exact rule (<see cref="PeftSharp.Tuners.PeftModel.AddWeightedAdapter(IReadOnlyList{string}, IReadOnlyList{double}, string)"/>), active alone.
    /// </summary>
    private static string[] Weighted(PeftSharp.Tuners.PeftModel peft, string[] arguments, double[]? weights)
    {
        if (weights == null) return [.. peft.Configs.Keys];
        const string name = "__weighted__";
        peft.AddWeightedAdapter([.. AdapterArgument.Named(arguments).Select(a => a.Name)], weights, name);
        peft.SetActiveAdapters([name]);
        return [name];
    }

    /// <summary>The model's primary output (logits, else the last hidden state) on fixed seeded token ids, float32.</summary>
    private static Tensor Probe(PretrainedModel model)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        long vocabulary = model.InputEmbeddings.weight!.shape[0];
        var random = new Random(0);
        var ids = tensor(Enumerable.Range(0, ProbeRows * ProbeLength).Select(_ => (long)random.Next((int)Math.Min(vocabulary, int.MaxValue))).ToArray())
            .reshape(ProbeRows, ProbeLength).to(model.InputEmbeddings.weight!.device);
        var inputs = new ModelInputs { InputIds = ids, DecoderInputIds = model is IEncoderDecoder ? ids : null };
        var output = model.forward(inputs);
        var primary = output.Logits ?? output.LastHiddenState ?? output.DecoderLastHiddenState
            ?? throw new PeftException($"{model.ArchitectureName} gave no output to compare");
        return primary.to(ScalarType.Float32).cpu().MoveToOuterDisposeScope();
    }

    /// <summary>A mean change above this fraction of the mean |output| is called large and warned about.</summary>
    private const double LargeChange = 0.01;

    private static (string Text, double Relative) Difference(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        var d = a.sub(b).abs();
        double max = d.max().item<float>(), mean = d.mean().item<float>(), scale = b.abs().mean().item<float>();
        double relative = mean / Math.Max(scale, 1e-30);
        return (string.Create(CultureInfo.InvariantCulture, $"max |diff| {max:0.###e0}, mean {mean:0.###e0} ({relative:P2} of the mean |output|)"), relative);
    }
}
