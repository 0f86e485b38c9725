using System.CommandLine;
using System.Globalization;
using PeftSharp.Training;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft train</c>: a config file (YAML or JSON) and flags that override it, one flag per training option;
/// with no arguments, the bundled MiniLM sentiment run. Progress on the terminal, everything else in the run folder.
/// </summary>
public static class TrainCommand
{
    private static readonly Dictionary<string, string[]> Aliases = new()
    {
        ["train-data"] = ["--data"],
        ["output"] = ["--out", "-o"],
        ["model"] = ["-m"],
    };

    public static Command Create()
    {
        var config = new Option<string?>("--config", "-c") { Description = "Training config file (.yaml, .yml or .json); flags override its values" };
        var cmd = new Command("train", "Train an adapter; with no arguments, LoRA on the bundled all-MiniLM-L6-v2 for sentence sentiment") { config };
        var flags = new List<(string Flag, Option Option)>();
        foreach (var key in TrainConfigFile.Keys)
        {
            var flag = key.Replace('_', '-');
            var property = typeof(TrainingOptions).GetProperties().Single(p => string.Equals(p.Name, key.Replace("_", ""), StringComparison.OrdinalIgnoreCase));
            var description = Describe(property.Name);
            Option option = property.PropertyType == typeof(bool)
                ? new Option<bool>("--" + flag, Aliases.GetValueOrDefault(flag) ?? []) { Description = description }
                : new Option<string?>("--" + flag, Aliases.GetValueOrDefault(flag) ?? []) { Description = description };
            flags.Add((flag, option));
            cmd.Options.Add(option);
        }
        cmd.SetAction(r => CommandRunner.Run(() =>
        {
            var given = new Dictionary<string, string>();
            foreach (var (flag, option) in flags)
            {
                var result = r.GetResult(option);
                if (result is null || result.Implicit) continue;
                given[flag] = option is Option<bool> b ? r.GetValue(b).ToString(CultureInfo.InvariantCulture).ToLowerInvariant() : r.GetValue((Option<string?>)option) ?? "";
            }
            return Run(r.GetValue(config), given);
        }));
        return cmd;
    }

    private static string Describe(string property) => property switch
    {
        "Model" => "Hugging Face model folder (default: all-MiniLM-L6-v2, imported from the bundled package)",
        "TrainData" => "Training data: .jsonl, .csv or .parquet (default: the bundled UCI sentiment sentences)",
        "ValidationData" => "Separate validation file (default: the data's split column, else validation_fraction of it)",
        "Output" => "Run folder for checkpoints, adapter, metrics.jsonl, loss.png, report.md (default: runs/<name>-<time>)",
        "Task" => "classification | causal-lm | instruction | seq2seq",
        "ValidationFraction" => "Share of the data held out for validation when there is no split column or file",
        "TextField" => "Field with the text (default text; classification and causal-lm)", "LabelField" => "Field with the label (default label)",
        "PromptField" => "Instruction data: prompt field (default prompt)", "CompletionField" => "Instruction data: answer field (default completion)",
        "SourceField" => "Seq2seq: source field (default source)", "TargetField" => "Seq2seq: target field (default target)",
        "SkipMalformed" => "Skip malformed records, reporting each with file and line (true), or stop at the first (false)",
        "BlockSize" => "Causal LM: tokens per packed block", "ModulesToSave" => "Whole modules to train and save with the adapter (e.g. a new head)",
        "UseRsLora" => "rsLoRA scaling alpha/sqrt(r)", "UseDora" => "DoRA: weight-decomposed LoRA", "InitLoraWeights" => "true | false | gaussian | pissa | pissa_niter_N | olora",
        "Method" => "lora | ia3 | loha | lokr | vera | full | head (full fine-tuning and head-only are baselines)",
        "FromAdapter" => "Continue training this finished adapter folder",
        "Resume" => "Continue from the newest checkpoint in the output folder",
        "LoraR" => "LoRA rank", "LoraAlpha" => "LoRA alpha (scaling alpha/r)", "LoraDropout" => "Dropout on the LoRA input",
        "TargetModules" => "Modules to adapt: comma-separated name suffixes, a regex, or all-linear (default: the architecture's)",
        "LoraPlusRatio" => "LoRA+: B matrices learn this many times faster",
        "LearningRate" => "Peak learning rate", "Epochs" => "Passes over the training data", "MaxSteps" => "Stop after this many optimizer steps",
        "BatchSize" => "Examples per micro-batch", "GradientAccumulation" => "Micro-batches per optimizer step",
        "MaxLength" => "Truncate texts to this many tokens", "Pooling" => "Classifier input: cls (BERT pooler) or mean",
        "Scheduler" => "constant | linear | cosine (after warm-up)", "Optimizer" => "adamw | sgd",
        "EvalEvery" => "Evaluate every N steps (0: each epoch)", "EarlyStoppingPatience" => "Stop after N evaluations without improvement (0: never)",
        "MetricForBest" => "auto | loss | accuracy | f1 | perplexity", "Seed" => "Seed for data order, initialisation and dropout",
        "Baselines" => "Also train the frozen-model baseline and full fine-tuning, for the report",
        "FrozenBaseline" => "Also train only the head on the frozen model (classification)",
        "LowMemory" => "Lower peak memory for somewhat slower steps (glibc)",
        "GradientCheckpointing" => "Recompute decoder layers in backward instead of storing activations: less memory, ~30% more time",
        "Device" => "cpu, cuda, cuda:1 (needs a CUDA TorchSharp package)",
        _ => $"Training option {property} (see TrainingOptions; snake_case in config files)",
    };

    private static int Run(string? configPath, Dictionary<string, string> flags)
    {
        TrainingOptions options;
        if (configPath != null) options = TrainConfigFile.Load(configPath);
        else if (!flags.ContainsKey("model") && !flags.ContainsKey("train-data")) options = DefaultRun.Options(DefaultRun.EnsureModel(m => Console.Error.WriteLine(m)));
        else options = new TrainingOptions();
        options = TrainConfigFile.ApplyOverrides(options, flags);
        if (string.IsNullOrEmpty(options.Output))
            options = options with { Output = Path.Combine("runs", Path.GetFileName(Path.TrimEndingDirectorySeparator(options.Model)) + "-" + DateTime.Now.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)) };

        using var cancel = new CancellationTokenSource();
        ConsoleCancelEventHandler onCancel = (_, e) => { e.Cancel = true; cancel.Cancel(); Console.Error.WriteLine("stopping after this step; a checkpoint will be written (Ctrl-C again to abort)"); };
        Console.CancelKeyPress += onCancel;
        try
        {
            var summary = TrainProgress.Run(options, cancel.Token);
            TrainProgress.PrintSummary(summary, options);
            return summary.StopReason.StartsWith("stopped", StringComparison.Ordinal) ? 1 : 0;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }
    }
}
