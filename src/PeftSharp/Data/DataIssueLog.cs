namespace PeftSharp.Data;

/// <summary>
/// Where readers, tasks and splits send malformed records. It applies the <see cref="MalformedRecordPolicy"/> in one
/// place, so every stage reports the same way: fail at the first bad record, or skip it while keeping a count, the
/// list, and an optional live callback (a progress display or a log line).
/// </summary>
public sealed class DataIssueLog
{
    private readonly List<DataIssue> _issues = [];
    private readonly Action<DataIssue>? _onIssue;

    public DataIssueLog(MalformedRecordPolicy policy = MalformedRecordPolicy.Skip, Action<DataIssue>? onIssue = null)
    {
        Policy = policy;
        _onIssue = onIssue;
    }

    /// <summary>A log that fails at the first malformed record.</summary>
    public static DataIssueLog Strict() => new(MalformedRecordPolicy.Fail);

    public MalformedRecordPolicy Policy { get; }
    public IReadOnlyList<DataIssue> Issues => _issues;
    public int SkippedCount => _issues.Count;

    /// <summary>Throws under <see cref="MalformedRecordPolicy.Fail"/>; otherwise records the issue and tells the callback.</summary>
    public void Report(string source, long line, string reason)
    {
        var issue = new DataIssue(source, line, reason);
        if (Policy == MalformedRecordPolicy.Fail)
            throw new PeftException($"{issue} (skip_malformed: true, --skip-malformed, skips such records)");
        _issues.Add(issue);
        _onIssue?.Invoke(issue);
    }

    public void Report(DataRecord record, string reason) => Report(record.Source, record.Line, reason);

    /// <summary>One line for the end of data loading: how many records were skipped, with the first few named.</summary>
    public string Summary(int show = 3)
    {
        if (_issues.Count == 0) return "no malformed records";
        var first = string.Join("; ", _issues.Take(show));
        string more = _issues.Count > show ? $"; and {NumberText.Count(_issues.Count - show)} more" : "";
        return $"{NumberText.Count(_issues.Count)} malformed record{(_issues.Count == 1 ? "" : "s")} skipped: {first}{more}";
    }
}
