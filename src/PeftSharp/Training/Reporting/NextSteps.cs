namespace PeftSharp.Training.Reporting;

/// <summary>
/// The commands that use a trained adapter, with real paths, ready to paste into a POSIX shell: the training summary
/// ends with the first, report.md with all of them (use it, score it, merge it into the model).
/// </summary>
public static class NextSteps
{
    /// <summary>The command that uses the adapter: peft predict for a classifier, peft generate for a language model.</summary>
    public static string? Use(string task, string modelDir, string adapterDir)
    {
        if (adapterDir.Length == 0) return null;
        var model = Quote(Path.GetFullPath(modelDir));
        var adapter = Quote(adapterDir);
        return task switch
        {
            "classification" => $"peft predict --model {model} --adapter {adapter} --text \"Your text here\"",
            "instruction" or "causal-lm" or "seq2seq" => $"peft generate --model {model} --adapter {adapter} --prompt \"Your prompt here\"",
            _ => null,
        };
    }

    /// <summary>Every next step for a finished run's adapter, each with what it does; empty when there is no adapter.</summary>
    public static IReadOnlyList<(string What, string Command)> For(TrainingSummary summary, TrainingOptions options)
    {
        if (summary.AdapterDir.Length == 0) return [];
        var task = summary.Task.Length > 0 ? summary.Task : options.Task;
        var model = Quote(Path.GetFullPath(options.Model));
        var adapter = Quote(summary.AdapterDir);
        var steps = new List<(string, string)>();
        if (Use(task, options.Model, summary.AdapterDir) is { } use)
            steps.Add((task == "classification" ? "classify texts" : "generate text", use));
        var data = options.ValidationData ?? options.TrainData;
        if (!string.IsNullOrEmpty(data))
            steps.Add(("score it on data (a file the run did not train on gives a fair score)",
                $"peft eval --model {model} --adapter {adapter} --data {Quote(Path.GetFullPath(data))}"));
        steps.Add(("merge it into the model, for use without PeftSharp or PEFT",
            $"peft merge --model {model} --adapter {adapter} --out {Quote(Path.Combine(summary.OutputDir, "merged"))}"));
        return steps;
    }

    /// <summary>A word as a POSIX shell reads it back unchanged: as is when it has only safe characters, else in single quotes (a quote inside written as '\''). The one quoting every printed command uses.</summary>
    public static string Quote(string text) =>
        text.Length > 0 && text.All(c => char.IsAsciiLetterOrDigit(c) || c is '/' or '.' or '-' or '_' or '+' or ':' or '@' or '=' or ',' or '%')
            ? text
            : "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
