using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PeftSharp.Data;
using PeftSharp.Training.Rounds;
using PeftSharp.Tuners;
using Spectre.Console;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft compare</c>: two states of a model on one data set, example by example. With one --adapter: the base model
/// (adapters disabled) against the adapter; with two: the first against the second (a round against the next). Prints
/// the metrics of both, the transitions (classification: right→wrong is forgetting, wrong→right backward transfer) and
/// the examples that changed; --json prints the same as JSON.
/// </summary>
public static class CompareCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = new Option<string[]>("--adapter") { Description = "Adapter folder: once (base against it) or twice (the first against the second)", Required = true, AllowMultipleArgumentsPerToken = false };
        var data = new Option<string>("--data") { Description = "Data file (.jsonl, .csv, .parquet)", Required = true };
        var task = new Option<string?>("--task") { Description = "auto | classification | causal-lm | instruction | seq2seq (default auto: the first adapter's)" };
        var split = new Option<string>("--split") { Description = "Which rows of a file with a split column: validation (default), train, all", DefaultValueFactory = _ => "validation" };
        var batch = new Option<int>("--batch-size") { Description = "Batch size", DefaultValueFactory = _ => 32 };
        var maxLength = new Option<int?>("--max-length") { Description = "Truncate inputs to this many tokens (default: the adapter's, else 128)" };
        var show = new Option<int>("--show") { Description = "Changed examples to list", DefaultValueFactory = _ => SetComparison.ChangedShown };
        var json = new Option<bool>("--json") { Description = "Print the comparison as JSON" };
        var device = CommonOptions.Device();
        var cmd = new Command("compare", "Compare the base model and an adapter, or two adapters, example by example on a data set")
        {
            model, adapters, data, task, split, batch, maxLength, show, json, device,
        };
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapters) ?? [], r.GetValue(data)!, r.GetValue(task), r.GetValue(split)!,
            r.GetValue(batch), r.GetValue(maxLength), r.GetValue(show), r.GetValue(json), r.GetValue(device))));
        return cmd;
    }

    private static int Run(string modelDir, string[] adapterDirs, string dataPath, string? taskName, string split, int batchSize, int? maxLength, int show, bool json, string? deviceName)
    {
        if (adapterDirs.Length is < 1 or > 2) throw new PeftException($"--adapter: give one (base against it) or two (the first against the second), not {adapterDirs.Length}");
        if (batchSize < 1) throw new PeftException("--batch-size must be at least 1");
        if (show < 0) throw new PeftException("--show must be 0 or more");
        foreach (var dir in adapterDirs)
            if (!Directory.Exists(dir)) throw new PeftException($"{dir}: adapter folder not found");
        var device = Devices.Parse(deviceName);
        var issues = new DataIssueLog(MalformedRecordPolicy.Skip, i => Console.Error.WriteLine($"peft: skipped {i}"));
        var input = EvaluationInput.Read(modelDir, adapterDirs[0], dataPath, taskName, split, maxLength, issues);
        if (adapterDirs.Length == 2 && input.Labels != null && Training.TaskInfo.Read(adapterDirs[1])?.Labels is { } second && !second.SequenceEqual(input.Labels.Names))
            throw new PeftException($"{adapterDirs[1]}: its labels ({string.Join(", ", second)}) differ from {adapterDirs[0]}'s ({string.Join(", ", input.Labels.Names)}); the two cannot be compared example by example");
        using var model = input.Task == "classification"
            ? BaseModelLoading.LoadClassifier(modelDir, input.Labels!.Count, input.Info?.Pooling ?? "cls", device)
            : BaseModelLoading.Load(modelDir, device);
        var peft = PeftModel.Load(model, adapterDirs[0], "first");
        if (adapterDirs.Length == 2) peft.LoadAdapter(adapterDirs[1], "second");
        foreach (var w in peft.Warnings) BaseModelLoading.Warn(w);
        var examples = input.TrainingTask.Tokenize(input.Records, issues);
        if (examples.Count == 0) throw new PeftException($"{dataPath}: no example the {input.Task} task can use");
        var collator = Collator.For(input.Tokenizer, new CollatorOptions { DecoderStartTokenId = model is Models.IEncoderDecoder ed ? ed.DecoderStartTokenId : null });
        string firstName = adapterDirs.Length == 2 ? adapterDirs[0] : "base model";
        string secondName = adapterDirs[^1];
        var comparison = ModelComparison.Compare(model, peft, adapterDirs.Length == 2 ? "first" : null, adapterDirs.Length == 2 ? "second" : "first",
            input.TrainingTask.Kind, examples, input.Records, collator, batchSize,
            id => input.Labels is { } l && id >= 0 && id < l.Count ? l.Names[(int)id] : id.ToString(CultureInfo.InvariantCulture),
            r => SetComparison.ShownText(r, "text", "prompt", "source"), Path.GetFileName(dataPath), Path.GetFullPath(dataPath), show);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = modelDir, first = firstName, second = secondName, data = dataPath, task = input.Task, examples = comparison.Examples,
                first_metrics = comparison.Before, second_metrics = comparison.After,
                transitions = comparison.Transitions is { } t ? new
                {
                    right_to_right = t.RightToRight, right_to_wrong = t.RightToWrong, wrong_to_right = t.WrongToRight, wrong_to_wrong = t.WrongToWrong,
                    forgetting_rate = t.ForgettingRate, backward_transfer_rate = t.BackwardTransferRate,
                } : null,
                changed = comparison.Changed.Select(c => new { origin = c.Origin, change = c.Change, label = c.Truth, first = c.Before, second = c.After, loss_first = c.LossBefore, loss_second = c.LossAfter, text = c.Text }),
            }, new JsonSerializerOptions { WriteIndented = true }));
            return 0;
        }
        Print(comparison, firstName, secondName, input.Task, dataPath);
        return 0;
    }

    private static void Print(SetComparison c, string first, string second, string task, string dataPath)
    {
        var console = Terminal.Out();
        console.MarkupLine(Markup.Escape($"{task} on {c.Examples:N0} examples of {dataPath}: {first} (A) against {second} (B)"));
        var metrics = new Table().AddColumn("metric").AddColumn(new TableColumn("A").RightAligned()).AddColumn(new TableColumn("B").RightAligned()).AddColumn(new TableColumn("B − A").RightAligned());
        foreach (var (name, a) in c.Before)
        {
            double b = c.After.GetValueOrDefault(name, double.NaN);
            metrics.AddRow(name, F(a), F(b), (b - a >= 0 ? "+" : "") + F(b - a));
        }
        console.Write(metrics);
        if (c.Transitions is { } t)
        {
            var transitions = new Table().AddColumn("transition").AddColumn(new TableColumn("examples").RightAligned()).AddColumn(new TableColumn("rate").RightAligned());
            transitions.AddRow("right → right", t.RightToRight.ToString("N0", CultureInfo.InvariantCulture), "");
            transitions.AddRow("right → wrong (forgetting)", t.RightToWrong.ToString("N0", CultureInfo.InvariantCulture), P(t.ForgettingRate) + " of right");
            transitions.AddRow("wrong → right (backward transfer)", t.WrongToRight.ToString("N0", CultureInfo.InvariantCulture), P(t.BackwardTransferRate) + " of wrong");
            transitions.AddRow("wrong → wrong", t.WrongToWrong.ToString("N0", CultureInfo.InvariantCulture), "");
            console.Write(transitions);
        }
        if (c.Changed.Count == 0)
        {
            console.MarkupLine("no example changed");
            return;
        }
        var changed = new Table().AddColumn("example").AddColumn("change").AddColumn("label").AddColumn("A").AddColumn("B").AddColumn("text");
        foreach (var x in c.Changed)
            changed.AddRow(Markup.Escape(Path.GetFileName(x.Origin)), Markup.Escape(x.Change), Markup.Escape(x.Truth ?? "–"),
                Markup.Escape(x.Before ?? F(x.LossBefore)), Markup.Escape(x.After ?? F(x.LossAfter)), Markup.Escape(x.Text));
        console.Write(changed);
    }

    private static string F(double v) => v.ToString("F4", CultureInfo.InvariantCulture);

    private static string P(double v) => (100 * v).ToString("0.#", CultureInfo.InvariantCulture) + "%";
}
