using System.Globalization;
using System.Text;

namespace PeftSharp.IO.Safetensors;

/// <summary>
/// Writes the header JSON byte for byte as Python's safetensors (Rust serde_json) does: compact, fields in
/// the order dtype, shape, data_offsets, "__metadata__" first, the same string escapes, padded with spaces
/// to a multiple of 8. System.Text.Json is not used because its escaping and number formatting differ,
/// and byte-identical files are what make our output comparable (and hashable) against Python's.
/// </summary>
internal static class HeaderJson
{
    public static byte[] Build(IReadOnlyDictionary<string, string>? metadata, IEnumerable<TensorEntry> entriesInFileOrder)
    {
        var sb = new StringBuilder("{");
        bool first = true;
        if (metadata != null)
        {
            // Python keeps metadata in a Rust HashMap, whose order is random when there is more than one key;
            // we sort (by UTF-8 bytes, like the tensor names) so our output at least does not vary.
            sb.Append('"').Append(SafetensorsHeader.MetadataKey).Append("\":{");
            bool firstItem = true;
            foreach (var (key, value) in metadata.OrderBy(kv => kv.Key, Utf8Order.Instance))
            {
                if (!firstItem) sb.Append(',');
                firstItem = false;
                AppendString(sb, key);
                sb.Append(':');
                AppendString(sb, value);
            }
            sb.Append('}');
            first = false;
        }
        foreach (var e in entriesInFileOrder)
        {
            if (!first) sb.Append(',');
            first = false;
            AppendString(sb, e.Name);
            sb.Append(":{\"dtype\":\"").Append(SafetensorsDTypes.ToHeaderString(e.DType)).Append("\",\"shape\":[");
            sb.AppendJoin(',', e.Shape.Select(d => d.ToString(CultureInfo.InvariantCulture)));
            sb.Append("],\"data_offsets\":[")
              .Append(e.Begin.ToString(CultureInfo.InvariantCulture)).Append(',')
              .Append(e.End.ToString(CultureInfo.InvariantCulture)).Append("]}");
        }
        sb.Append('}');
        int padding = (8 - Strict.GetByteCount(sb.ToString()) % 8) % 8;
        sb.Append(' ', padding);
        return Strict.GetBytes(sb.ToString());
    }

    /// <summary>UTF-8 that throws on unpaired surrogates instead of writing U+FFFD into a name.</summary>
    internal static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <summary>serde_json's escapes: quote, backslash, and control characters; everything else raw.</summary>
    private static void AppendString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (char c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case < ' ': sb.Append("\\u00").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture)); break;
                default: sb.Append(c); break;
            }
        }
        sb.Append('"');
    }
}
