namespace PeftSharp.Training.Rounds;

/// <summary>
/// Example-wise transitions between two models on the same examples (Toneva et al., "An empirical study of example
/// forgetting", 2019): right→wrong is forgetting, wrong→right backward transfer. Rates are per example that could make
/// the transition: forgetting rate = right→wrong / right before; backward-transfer rate = wrong→right / wrong before.
/// </summary>
public sealed record Transitions(int RightToRight, int RightToWrong, int WrongToRight, int WrongToWrong)
{
    public int Examples => RightToRight + RightToWrong + WrongToRight + WrongToWrong;

    public double ForgettingRate => RightToRight + RightToWrong == 0 ? 0 : (double)RightToWrong / (RightToRight + RightToWrong);

    public double BackwardTransferRate => WrongToRight + WrongToWrong == 0 ? 0 : (double)WrongToRight / (WrongToRight + WrongToWrong);

    /// <summary>The transitions between two outcome lists of the same examples in the same order (classification only).</summary>
    public static Transitions Between(IReadOnlyList<ExampleOutcome> before, IReadOnlyList<ExampleOutcome> after)
    {
        if (before.Count != after.Count)
            throw new PeftException($"transitions need the same examples before and after ({before.Count} against {after.Count})");
        int rr = 0, rw = 0, wr = 0, ww = 0;
        for (int i = 0; i < before.Count; i++)
        {
            if (before[i].Origin != after[i].Origin) throw new PeftException($"transitions: example {i} is {before[i].Origin} before and {after[i].Origin} after");
            bool b = before[i].Correct ?? throw new PeftException("transitions are defined for classification outcomes only");
            bool a = after[i].Correct ?? throw new PeftException("transitions are defined for classification outcomes only");
            if (b && a) rr++;
            else if (b) rw++;
            else if (a) wr++;
            else ww++;
        }
        return new Transitions(rr, rw, wr, ww);
    }
}

/// <summary>One example whose outcome changed between the two models, for the report and <c>peft compare</c>.</summary>
public sealed record ChangedExample(string Origin, string Text, string? Truth, string? Before, string? After, double LossBefore, double LossAfter)
{
    /// <summary>"right→wrong", "wrong→right", or for token tasks "loss rose"/"loss fell".</summary>
    public required string Change { get; init; }
}

/// <summary>
/// One set compared between two models: the metrics of each, the transitions (classification), and the examples that
/// changed (right→wrong first; for token tasks the largest rises of loss), at most <see cref="ChangedShown"/>.
/// </summary>
public sealed record SetComparison(string Name, string Source, int Examples, IReadOnlyDictionary<string, double> Before,
    IReadOnlyDictionary<string, double> After, Transitions? Transitions, IReadOnlyList<ChangedExample> Changed)
{
    public const int ChangedShown = 10;

    /// <summary>A record as a person reads it in a table: the first of <paramref name="fields"/> it has as a string, shortened.</summary>
    public static string ShownText(Data.DataRecord r, params string[] fields)
    {
        var text = fields.Select(r.GetString).FirstOrDefault(t => t != null) ?? r.ToString();
        return text.Length <= 160 ? text : text[..157] + "...";
    }

    /// <summary>Compares the outcomes; <paramref name="textOf"/> gives an example's text by origin, <paramref name="labelName"/> a class name by id.</summary>
    public static SetComparison Of(string name, string source, IReadOnlyList<ExampleOutcome> before, IReadOnlyList<ExampleOutcome> after,
        Func<string, string> textOf, Func<long, string> labelName, int shown = ChangedShown)
    {
        bool classes = before.Count > 0 && before[0].Truth != null;
        Transitions? transitions = classes ? Transitions.Between(before, after) : null;
        var pairs = before.Zip(after, (b, a) => (b, a)).ToList();
        IEnumerable<(ExampleOutcome b, ExampleOutcome a)> changed = classes
            ? pairs.Where(p => p.b.Correct != p.a.Correct).OrderBy(p => p.a.Correct == true ? 1 : 0).ThenByDescending(p => p.a.Loss - p.b.Loss)
            : pairs.Where(p => p.a.Loss != p.b.Loss).OrderByDescending(p => p.a.Loss - p.b.Loss);
        var list = changed.Take(shown).Select(p => new ChangedExample(p.b.Origin, textOf(p.b.Origin),
            p.b.Truth is { } t ? labelName(t) : null, p.b.Predicted is { } x ? labelName(x) : null, p.a.Predicted is { } y ? labelName(y) : null, p.b.Loss, p.a.Loss)
        {
            Change = classes ? (p.b.Correct == true ? "right→wrong" : "wrong→right") : (p.a.Loss > p.b.Loss ? "loss rose" : "loss fell"),
        }).ToList();
        return new SetComparison(name, source, before.Count, ExampleOutcome.Metrics(before), ExampleOutcome.Metrics(after), transitions, list);
    }
}
