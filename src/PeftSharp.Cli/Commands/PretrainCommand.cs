using System.CommandLine;
using System.Globalization;
using PeftSharp.Cli.Pretraining;
using PeftSharp.Generation;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft pretrain-tiny-gpt2</c> (hidden: a maintainer's command): rebuilds models/tiny-gpt2-en from data/brown with
/// <see cref="TinyGpt2Recipe"/>. The same seed and step count give the same model on the same machine type; the run
/// folder keeps checkpoints, so an interrupted pretraining continues with --resume.
/// </summary>
public static class PretrainCommand
{
    private static readonly string[] SamplePrompts = ["The man said that", "In the morning, the", "It is important to", "She looked at the"];

    public static Command Create()
    {
        var data = new Option<string>("--data") { Description = "Corpus (JSON lines with a text field)", DefaultValueFactory = _ => "data/brown/brown.jsonl" };
        var output = new Option<string>("--out", "-o") { Description = "Model folder to create", Required = true };
        var run = new Option<string?>("--run") { Description = "Run folder for checkpoints, metrics and report (default: <out>.run)" };
        var seed = new Option<long>("--seed") { Description = "Seed of the initialisation, split and data order", DefaultValueFactory = _ => TinyGpt2Recipe.DefaultSeed };
        var steps = new Option<int>("--max-steps") { Description = "Optimizer steps", DefaultValueFactory = _ => TinyGpt2Recipe.DefaultSteps };
        var resume = new Option<bool>("--resume") { Description = "Continue the run folder's last checkpoint" };
        var stopAfter = new Option<int?>("--stop-after") { Description = "Stop with a checkpoint after this step (continue with --resume, e.g. with fewer --max-steps)" };
        var cmd = new Command("pretrain-tiny-gpt2", $"Pretrain {TinyGpt2Recipe.Name} from scratch on the Brown Corpus (maintainers)")
        {
            data, output, run, seed, steps, resume, stopAfter,
        };
        cmd.Hidden = true;
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(data)!, r.GetValue(output)!, r.GetValue(run), r.GetValue(seed), r.GetValue(steps), r.GetValue(resume), r.GetValue(stopAfter))));
        return cmd;
    }

    private static int Run(string data, string outDir, string? runDir, long seed, int steps, bool resume, int? stopAfter)
    {
        if (Directory.Exists(outDir) && Directory.EnumerateFileSystemEntries(outDir).Any())
            throw new PeftException($"{outDir}: folder exists and is not empty");
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

        var options = TinyGpt2Recipe.Options(initDir, data, Path.Combine(runDir, "train"), seed, steps, resume);
        using var stop = new CancellationTokenSource();
        var summary = TrainingSession.Run(options, new LineObserver(step => { if (step == stopAfter) stop.Cancel(); }), stop.Token);
        if (summary.Interrupted)
        {
            Console.WriteLine($"stopped after step {summary.Steps:N0} with a checkpoint in {options.Output}; continue with --resume");
            return 0;
        }
        var checkpoint = new Checkpoints(options.Output, options.KeepLast).Latest()
            ?? throw new PeftException($"{options.Output}: the run left no checkpoint");
        // From the run's metrics log, not the summary: a resume of a finished run (to write the model again) has none.
        var (stepLog, evaluations) = MetricsLog.Read(Path.Combine(options.Output, MetricsLog.FileName));
        var last = stepLog.Count > 0 ? stepLog[^1] : throw new PeftException($"{options.Output}: the run logged no step");
        double lastLoss = last.Loss;
        double validation = evaluations.Count > 0 && evaluations[^1].Metrics.TryGetValue("loss", out var v) ? v : double.NaN;
        var card = ModelCard(seed, last.Step, last.ElapsedSeconds, lastLoss, validation);
        long parameters = TinyGpt2Recipe.WriteFinal(initDir, checkpoint, outDir, card);
        Console.WriteLine($"wrote {TinyGpt2Recipe.Name} ({parameters:N0} parameters, {last.Step:N0} steps in {last.ElapsedSeconds / 60:F1} min, "
            + $"last training loss {TinyGpt2Recipe.Number(lastLoss)}, validation loss {TinyGpt2Recipe.Number(validation)}) to {Path.GetFullPath(outDir)}");
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

    private static string ModelCard(long seed, int steps, double seconds, double trainLoss, double validationLoss) => string.Create(CultureInfo.InvariantCulture, $"""
        # {TinyGpt2Recipe.Name}

        A toy GPT-2 for trying PeftSharp's decoder paths offline (generation, instruction tuning, eval, merge). It is **not**
        a useful language model or assistant: it has seen {steps * (long)TinyGpt2Recipe.BatchSize * TinyGpt2Recipe.BlockSize:N0} tokens (a
        pass over its corpus is about 1.26 million), its greedy text repeats itself and is only partly grammatical (see
        below), and it knows nothing.

        - Architecture: GPT2LMHeadModel, {TinyGpt2Recipe.Layers} layers, width {TinyGpt2Recipe.Width}, {TinyGpt2Recipe.Heads} heads,
          {TinyGpt2Recipe.Positions} positions, tied embeddings; GPT-2's own 50,257-token byte-level BPE. Weights stored as float16.
        - Pretraining: from a random initialisation (seed {seed}), our own trainer, full fine-tuning on the causal-LM task,
          {steps:N0} steps of {TinyGpt2Recipe.BatchSize} x {TinyGpt2Recipe.BlockSize} tokens, AdamW, learning rate
          {TinyGpt2Recipe.LearningRate:0.0e0} with {TinyGpt2Recipe.WarmupSteps} warm-up steps and cosine decay, {seconds / 60:F1} min on one thread of a shared 2-core machine.
        - Loss: last training loss {trainLoss:0.000}, validation loss {validationLoss:0.000} (perplexity {Math.Exp(validationLoss):F0})
          on 1% of the corpus held out.
        - Corpus: the Brown Corpus (data/brown in the PeftSharp repository; redistribution permitted by its copyright holder).
        - Rebuild: `tools/tiny-gpt2/pretrain.sh` (the pretrain-tiny-gpt2 commands as they were run;
          see tools/tiny-gpt2/README.md).
        """);

    /// <summary>One line per logged step and evaluation: a pretraining is watched in a log, not on a progress bar.</summary>
    private sealed class LineObserver(Action<int> afterStep) : ITrainerObserver
    {
        private int _total;

        public void OnStart(TrainingPlan plan)
        {
            _total = plan.TotalSteps;
            Console.WriteLine($"pretraining: {plan.TrainExamples:N0} blocks for training, {plan.ValidationExamples:N0} for validation, "
                + $"{plan.AllParameters:N0} parameters, {plan.TotalSteps:N0} steps (from {plan.StartStep:N0})");
        }

        public void OnStep(StepRecord s)
        {
            if (s.Step % 10 == 0 || s.Step == _total) Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"step {s.Step:N0}/{_total:N0} epoch {s.Epoch} loss {s.Loss:0.000} lr {s.LearningRate:0.0e0} {s.TokensPerSecond:N0} tok/s {s.ElapsedSeconds / 60:F1} min"));
            afterStep(s.Step);
        }

        public void OnEvaluation(EvalRecord e) => Console.WriteLine($"eval at step {e.Step.ToString("N0", CultureInfo.InvariantCulture)}: "
            + string.Join(", ", e.Metrics.Select(m => FormattableString.Invariant($"{m.Key} {m.Value:0.000}"))));

        public void OnMessage(string message) => Console.WriteLine(message);
    }
}
