using System.Collections;

namespace PeftSharp.Options;

/// <summary>
/// Values given for method options, by key: only what a file or flag set, so a method's default applies otherwise.
/// Immutable with value equality, so options records that hold it compare, print and fingerprint by content.
/// </summary>
public sealed class OptionValues : IEquatable<OptionValues>, IEnumerable<KeyValuePair<string, object?>>
{
    private readonly SortedDictionary<string, object?> _values;

    public static OptionValues Empty { get; } = new(new SortedDictionary<string, object?>(StringComparer.Ordinal));

    private OptionValues(SortedDictionary<string, object?> values) => _values = values;

    public int Count => _values.Count;

    public bool TryGet(string key, out object? value) => _values.TryGetValue(key, out value);

    /// <summary>A copy with one value set (lists are copied, so later changes to the caller's list do not leak in).</summary>
    public OptionValues With(string key, object? value)
    {
        var copy = new SortedDictionary<string, object?>(_values, StringComparer.Ordinal)
        {
            [key] = value is IReadOnlyList<string> list ? list.ToList() : value,
        };
        return new OptionValues(copy);
    }

    public OptionValues Without(string key)
    {
        if (!_values.ContainsKey(key)) return this;
        var copy = new SortedDictionary<string, object?>(_values, StringComparer.Ordinal);
        copy.Remove(key);
        return new OptionValues(copy);
    }

    public bool Equals(OptionValues? other) => other is not null && _values.Count == other._values.Count
        && _values.All(kv => other._values.TryGetValue(kv.Key, out var o) && Same(kv.Value, o));

    public override bool Equals(object? obj) => Equals(obj as OptionValues);

    public override int GetHashCode() => _values.Aggregate(0, (h, kv) => HashCode.Combine(h, kv.Key));

    public override string ToString() => "{" + string.Join(", ", _values.Select(kv => $"{kv.Key}={OptionSpec.Show(kv.Value)}")) + "}";

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator() => _values.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    private static bool Same(object? a, object? b) =>
        a is IReadOnlyList<string> la && b is IReadOnlyList<string> lb ? la.SequenceEqual(lb) : Equals(a, b);
}
