namespace PeftSharp.IO.Safetensors;

/// <summary>
/// Rust's String ordering, which Python's safetensors uses to order tensor names: lexicographic over UTF-8
/// bytes, i.e. by code point. Plain ordinal comparison of .NET strings compares UTF-16 code units and
/// disagrees for characters above U+FFFF versus U+E000..U+FFFF.
/// </summary>
internal sealed class Utf8Order : IComparer<string>
{
    public static readonly Utf8Order Instance = new();

    public int Compare(string? x, string? y)
    {
        if (ReferenceEquals(x, y)) return 0;
        if (x is null) return -1;
        if (y is null) return 1;
        int i = 0, j = 0;
        while (i < x.Length && j < y.Length)
        {
            int a = CodePoint(x, ref i), b = CodePoint(y, ref j);
            if (a != b) return a < b ? -1 : 1;
        }
        return (x.Length - i).CompareTo(y.Length - j);
    }

    private static int CodePoint(string s, ref int index)
    {
        if (char.IsHighSurrogate(s[index]) && index + 1 < s.Length && char.IsLowSurrogate(s[index + 1]))
        {
            int cp = char.ConvertToUtf32(s[index], s[index + 1]);
            index += 2;
            return cp;
        }
        return s[index++];
    }
}
