using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// Two states of one model compared example by example on one data set (<c>peft compare</c>): the base (adapters
/// disabled) or an adapter on one side, another adapter on the other. Both are evaluated on the same tokenized examples
/// in the same order, so the transitions are between the same examples.
/// </summary>
public static class ModelComparison
{
    /// <summary>A side: null for the base model, else the adapter's name in <paramref name="peft"/>.</summary>
    public static SetComparison Compare(PretrainedModel model, PeftModel peft, string? first, string? second, TaskKind kind,
        IReadOnlyList<TokenizedExample> examples, IReadOnlyList<DataRecord> records, Collator collator, int batchSize,
        Func<long, string> labelName, Func<DataRecord, string> textOf, string name, string source, int shown = SetComparison.ChangedShown)
    {
        var device = model.Device;
        IReadOnlyList<ExampleOutcome> Outcomes(string? adapter)
        {
            if (adapter == null)
                using (peft.DisableAdapters()) return ExampleOutcome.Evaluate(model, kind, examples, collator, batchSize, device);
            peft.SetAdapter(adapter, trainable: false);
            return ExampleOutcome.Evaluate(model, kind, examples, collator, batchSize, device);
        }
        var before = Outcomes(first);
        var after = Outcomes(second);
        var texts = records.GroupBy(r => r.Location).ToDictionary(g => g.Key, g => textOf(g.First()));
        return SetComparison.Of(name, source, before, after, o => texts.GetValueOrDefault(o, o), labelName, shown);
    }
}
