using System.CommandLine;
using System.Globalization;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.Training.Rounds;
using Spectre.Console;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft pseudo-label</c>: a classifier adapter's confident predictions on unlabelled records written as training
/// labels (self-training, <see cref="PseudoLabels"/>), with how many were kept and the confidence histogram of the pool.
/// </summary>
public static class PseudoLabelCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapter = new Option<string>("--adapter") { Description = "The classifier adapter that labels", Required = true };
        var pool = new Option<string>("--pool") { Description = "Unlabelled records (.jsonl, .csv, .parquet) with a text field", Required = true };
        var minConfidence = new Option<double>("--min-confidence") { Description = "Keep predictions at least this probable (0 to 1)", DefaultValueFactory = _ => 0.9 };
        var output = new Option<string>("--out") { Description = "Where to write the labelled records (JSON lines)", Required = true };
        var batch = new Option<int>("--batch-size") { Description = "Batch size", DefaultValueFactory = _ => 32 };
        var maxLength = new Option<int?>("--max-length") { Description = "Truncate inputs to this many tokens (default: the adapter's)" };
        var device = CommonOptions.Device();
        var cmd = new Command("pseudo-label", "Label unlabelled records with an adapter's confident predictions (self-training)")
        {
            model, adapter, pool, minConfidence, output, batch, maxLength, device,
        };
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapter)!, r.GetValue(pool)!, r.GetValue(minConfidence), r.GetValue(output)!,
            r.GetValue(batch), r.GetValue(maxLength), r.GetValue(device))));
        return cmd;
    }

    private static int Run(string modelDir, string adapterDir, string poolPath, double minConfidence, string output, int batchSize, int? maxLength, string? deviceName)
    {
        if (minConfidence is < 0 or > 1 || double.IsNaN(minConfidence)) throw new PeftException($"--min-confidence must be between 0 and 1, not {minConfidence.ToString(CultureInfo.InvariantCulture)}");
        if (batchSize < 1) throw new PeftException("--batch-size must be at least 1");
        using var input = PoolInput.Load(modelDir, adapterDir, poolPath, maxLength, deviceName);
        if (input.Kind != TaskKind.SequenceClassification) throw new PeftException($"pseudo-label labels classification data; {adapterDir} is a {input.Task} adapter");
        var predictions = PoolPredictions.Compute(input.Model, input.Examples, input.Collator, batchSize, input.Model.Device, embeddings: false);
        var labels = PseudoLabels.From(predictions, input.Records, minConfidence, input.Labels!.Count);
        AtomicFile.WriteAllText(output, labels.ToJsonLines(input.Labels.Names));
        var console = Terminal.Out();
        console.MarkupLine(Markup.Escape($"kept {labels.Kept.Count:N0} of {labels.Pool:N0} pool examples with confidence ≥ {minConfidence.ToString("0.###", CultureInfo.InvariantCulture)}: "
            + string.Join(", ", input.Labels.Names.Select((n, i) => $"{n} {labels.PerClass[i]:N0}")) + $"; wrote {output}"));
        var table = new Table().AddColumn("confidence").AddColumn(new TableColumn("examples").RightAligned()).AddColumn("");
        int widest = Math.Max(1, labels.Histogram.Max());
        for (int b = 0; b < PseudoLabels.Bins; b++)
        {
            if (labels.Histogram[b] == 0 && (b + 1.0) / PseudoLabels.Bins <= 1.0 / input.Labels.Count) continue; // below 1/K no prediction can fall
            double lo = (double)b / PseudoLabels.Bins;
            table.AddRow($"{lo.ToString("0.0", CultureInfo.InvariantCulture)}-{(lo + 0.1).ToString("0.0", CultureInfo.InvariantCulture)}" + (lo >= minConfidence - 1e-12 ? " kept" : lo + 0.1 > minConfidence ? " partly kept" : ""),
                labels.Histogram[b].ToString("N0", CultureInfo.InvariantCulture), new string('#', (int)Math.Round(30.0 * labels.Histogram[b] / widest)));
        }
        console.Write(table);
        return 0;
    }
}
