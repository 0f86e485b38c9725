namespace PeftSharp.Data;

/// <summary>
/// Train/validation splits that are the same for the same seed on every machine and .NET version (see DataRandom),
/// so that a validation score can be compared across runs. Both parts keep the input order; shuffling for training is
/// the loader's job.
/// </summary>
public static class DatasetSplit
{
    /// <summary>
    /// A random split: ceil(count × fraction) items (as Hugging Face's train_test_split) go to validation, chosen by a
    /// Fisher-Yates shuffle seeded with <paramref name="seed"/>. With <paramref name="stratifyBy"/>, each group (in
    /// ordinal order of its key) gives ceil(its count × fraction) items, so label proportions carry over to validation.
    /// </summary>
    public static DataSplit<T> TrainValidation<T>(IReadOnlyList<T> items, double validationFraction, long seed, Func<T, string>? stratifyBy = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        if (!(validationFraction > 0 && validationFraction < 1))
            throw new PeftException($"The validation fraction must be between 0 and 1 (exclusive), not {validationFraction}.");
        var validation = new bool[items.Count];
        var groups = stratifyBy is null
            ? [Enumerable.Range(0, items.Count).ToList()]
            : Enumerable.Range(0, items.Count).GroupBy(i => stratifyBy(items[i]))
                .OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => g.ToList()).ToList();
        var random = DataRandom.For(seed, stream: 0);
        foreach (var group in groups)
        {
            int take = (int)Math.Ceiling(group.Count * validationFraction - 1e-9);
            random.Shuffle(group);
            foreach (var i in group.Take(take)) validation[i] = true;
        }
        var train = new List<T>();
        var valid = new List<T>();
        for (int i = 0; i < items.Count; i++) (validation[i] ? valid : train).Add(items[i]);
        if (items.Count >= 2 && (train.Count == 0 || valid.Count == 0))
            throw new PeftException($"A validation fraction of {validationFraction} leaves {train.Count} training and {valid.Count} validation records.");
        return new DataSplit<T>(train, valid, []);
    }

    /// <summary>Whether any record has the split column, i.e. whether the file brings its own split.</summary>
    public static bool HasSplitColumn(IEnumerable<DataRecord> records, string column = "split") => records.Any(r => r.Has(column));

    /// <summary>
    /// The split a file brings in a column (the bundled UCI data has split = train | validation). Values are matched
    /// case-insensitively; "valid", "val" and "dev" also mean validation. A record without a string value in the column
    /// is malformed; one with another value (such as "test") goes to <see cref="DataSplit{T}.Other"/>.
    /// </summary>
    public static DataSplit<DataRecord> ByColumn(IEnumerable<DataRecord> records, DataIssueLog issues, string column = "split")
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(issues);
        var train = new List<DataRecord>();
        var validation = new List<DataRecord>();
        var other = new List<DataRecord>();
        foreach (var record in records)
        {
            var value = RecordFields.Text(record, [column], issues);
            if (value is null) continue;
            switch (value.Trim().ToLowerInvariant())
            {
                case "train": train.Add(record); break;
                case "validation" or "valid" or "val" or "dev": validation.Add(record); break;
                default: other.Add(record); break;
            }
        }
        return new DataSplit<DataRecord>(train, validation, other);
    }
}
