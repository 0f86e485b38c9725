using System.CommandLine;
using System.Globalization;
using PeftSharp.IO;
using PeftSharp.Cli.Pretraining;
using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using PeftSharp.Training;
using TorchSharp;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft pretrain-tiny-gpt2</c> (hidden: a maintainer's command): rebuilds models/tiny-gpt2-en from data/kjv with
/// <see cref="TinyGpt2Recipe"/>. The same seed and step count give the same model on the same machine type; the run
/// folder keeps checkpoints, so an interrupted pretraining continues with --resume.
/// </summary>
public static class PretrainCommand
{
    private static readonly string[] SamplePrompts = ["The man said that", "In the morning, the", "And he said unto", "She looked at the", "The king of"];

    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Corpus (JSON lines with a text field)", DefaultValueFactory = _ => "data/kjv/kjv.jsonl" };
        var output = new Option<string>("--out", "-o") { Description = "Model folder to create", Required = true };
        var run = new Option<string?>("--run") { Description = "Run folder for checkpoints, metrics and report (default: <out>.run)" };
        var seed = new Option<long>("--seed") { Description = "Seed of the initialisation, split and data order", DefaultValueFactory = _ => TinyGpt2Recipe.DefaultSeed };
        var steps = new Option<int>("--max-steps") { Description = "Optimizer steps", DefaultValueFactory = _ => TinyGpt2Recipe.DefaultSteps };
        var resume = new Option<bool>("--resume") { Description = "Continue the run folder's last checkpoint" };
        var stopAfter = new Option<int?>("--stop-after") { Description = "Stop with a checkpoint after this step (continue with --resume, e.g. with fewer --max-steps)" };
        var cmd = new Command("pretrain-tiny-gpt2", $"Pretrain {TinyGpt2Recipe.Name} from scratch on the King James Bible (maintainers)")
        {
            data, output, run, seed, steps, resume, stopAfter,
        };
        cmd.Hidden = true;
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(data)!, r.GetValue(output)!, r.GetValue(run), r.GetValue(seed), r.GetValue(steps), r.GetValue(resume), r.GetValue(stopAfter))));
        return cmd;
    }

    private static int Run(string data, string outDir, string? runDir, long seed, int steps, bool resume, int? stopAfter)
    {
        AtomicFolder.RequireEmpty(outDir);
        runDir ??= outDir.TrimEnd('/', '\\') + ".run";
        string initDir = Path.Combine(runDir, "init");
        if (!resume)
        {
            if (Directory.Exists(runDir) && Directory.EnumerateFileSystemEntries(runDir).Any())
                throw new PeftException($"{runDir}: run folder exists: add --resume to continue it, or choose another --run");
            TinyGpt2Recipe.WriteInitial(initDir, seed);
        }
        else if (!File.Exists(Path.Combine(initDir, "model.safetensors")))
        {
            throw new PeftException($"{runDir}: no initial model at {initDir}; start without --resume");
        }

        // One thread: on a shared machine two libtorch threads spend much of a step waiting for each other at every
        // parallel region, and one thread fixes the order of the arithmetic, so the same seed gives the same weights.
        torch.set_num_threads(1);
        var result = Pretrainer.Run(data, initDir, Path.Combine(runDir, "train"), seed, steps, stopAfter, resume, Console.WriteLine);
        if (result.Interrupted)
        {
            Console.WriteLine($"stopped after step {result.Step:N0} with a checkpoint in {result.Checkpoint}; continue with --resume");
            return 0;
        }
        var (parameters, restored) = TinyGpt2Recipe.WriteFinal(initDir, result.Checkpoint, outDir);
        double written = TinyGpt2Recipe.FullSoftmaxLoss(outDir, result.Validation);
        var card = ModelCard(seed, result, restored, written);
        Console.WriteLine($"wrote {TinyGpt2Recipe.Name} ({parameters:N0} parameters, {result.Step:N0} steps in {result.Seconds / 60:F1} min, "
            + $"last training loss {TinyGpt2Recipe.Number(result.TrainLoss)}, validation loss {TinyGpt2Recipe.Number(result.ValidationLoss)}; as written, {restored:N0} unused rows random again, full softmax: {TinyGpt2Recipe.Number(written)}) to {Path.GetFullPath(outDir)}");
        // The card shows what the model writes, so nobody has to take its description on trust.
        var samples = Samples(outDir);
        foreach (var line in samples) Console.WriteLine("  " + line);
        File.WriteAllText(Path.Combine(outDir, "README.md"), card + "\n\nGreedy continuations (prompt | 30 new tokens), as `peft generate` gives them:\n\n"
            + string.Concat(samples.Select(l => $"    {l}\n")));
        return 0;
    }

    /// <summary>Greedy continuations of a few prompts, to judge the model by eye.</summary>
    private static List<string> Samples(string modelDir)
    {
        var lines = new List<string>();
        using var model = AutoModel.FromPretrained(modelDir);
        var tokenizer = AutoTokenizer.FromFolder(modelDir);
        var options = new GenerationOptions { MaxNewTokens = 30, StopTokenIds = [Gpt2Vocabulary.EndOfTextId], PadTokenId = Gpt2Vocabulary.EndOfTextId };
        foreach (var prompt in SamplePrompts)
        {
            var ids = tokenizer.Encode(prompt).Select(i => (long)i).ToArray();
            var produced = Generator.Generate(model, [ids], options)[0];
            lines.Add($"{prompt} | {tokenizer.Decode(produced.Select(i => (int)i), skipSpecialTokens: true).ReplaceLineEndings(" ")}");
        }
        return lines;
    }

    private static string ModelCard(long seed, PretrainResult r, int restored, double written) => string.Create(CultureInfo.InvariantCulture, $"""
        # {TinyGpt2Recipe.Name}

        A toy GPT-2 for trying PeftSharp's decoder paths offline (generation, instruction tuning, eval, merge). It is **not**
        a useful language model or assistant: it has read one book, the King James Bible, so its English is that book's
        (see the greedy continuations below); it knows nothing and answers nothing.

        - Architecture: GPT2LMHeadModel, {TinyGpt2Recipe.Layers} layers, width {TinyGpt2Recipe.Width}, {TinyGpt2Recipe.Heads} heads,
          {TinyGpt2Recipe.Positions} positions, tied embeddings; GPT-2's own 50,257-token byte-level BPE. Weights stored as float16.
          The corpus uses {r.CorpusVocabulary:N0} of those tokens; the embedding rows of the other {restored:N0} keep their random
          initialisation (held at zero while pretraining; see tools/tiny-gpt2/README.md).
        - Pretraining: from a random initialisation (seed {seed}), full training of every parameter on the causal-LM loss,
          {r.Step:N0} steps of {TinyGpt2Recipe.BatchSize} x {TinyGpt2Recipe.BlockSize} tokens ({r.Step * (long)TinyGpt2Recipe.BatchSize * TinyGpt2Recipe.BlockSize:N0} tokens,
          {r.Step * (double)TinyGpt2Recipe.BatchSize / r.TrainBlocks:F1} passes over the {r.TrainBlocks:N0} training blocks), AdamW, learning rate
          {TinyGpt2Recipe.LearningRate:0.0e0} with {TinyGpt2Recipe.WarmupSteps} warm-up steps and cosine decay, {r.Seconds / 60:F1} min on one CPU thread.
        - Loss: last training loss {r.TrainLoss:0.000}, validation loss {r.ValidationLoss:0.000} (perplexity {Math.Exp(r.ValidationLoss):F0})
          on {r.ValidationBlocks:N0} blocks (1%) held out; this folder's (float16, the unused rows random, full softmax) {written:0.000}.
        - Corpus: the King James Version (1769 text), public domain (data/kjv in the PeftSharp repository).
        - Rebuild: `tools/tiny-gpt2/pretrain.sh` (see tools/tiny-gpt2/README.md).
        """);
}
