using System.Text;

namespace PeftSharp.Data;

/// <summary>
/// An RFC 4180 reader, written here rather than taken from a package because the format is small and we need what
/// general CSV libraries do not all give: the physical line each record starts on, counting newlines inside quoted
/// fields, and broken rows reported (not repaired or thrown) so that they can be skipped by policy.
/// Accepts CRLF, LF or CR line ends; keeps newlines inside quoted fields as written; skips blank lines.
/// A quote inside an unquoted field is kept literally (as Python's csv module does); text after a closing quote,
/// or a quote left open at the end of the file, marks the row as broken.
/// </summary>
public static class CsvParser
{
    public static IEnumerable<CsvRow> Parse(TextReader reader, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(reader);
        if (separator is '"' or '\r' or '\n') throw new ArgumentException("The separator cannot be a quote or a line break.", nameof(separator));
        long line = 1;
        var fields = new List<string>();
        var field = new StringBuilder();
        while (true)
        {
            long rowLine = line;
            fields.Clear();
            field.Clear();
            string? error = null;
            bool any = false; // anything at all on this row, so that blank lines can be skipped
            bool endOfFile = false;
            var state = State.FieldStart;
            while (true)
            {
                int c = reader.Read();
                if (c == -1)
                {
                    endOfFile = true;
                    if (state == State.Quoted) error = "a quoted field is never closed (the file ends inside quotes)";
                    break;
                }
                if (c is '\r' or '\n')
                {
                    bool crlf = c == '\r' && reader.Peek() == '\n';
                    if (crlf) reader.Read();
                    line++;
                    if (state != State.Quoted) break;
                    field.Append(crlf ? "\r\n" : c == '\r' ? "\r" : "\n");
                    continue;
                }
                any = true;
                switch (state)
                {
                    case State.FieldStart:
                        if (c == '"') state = State.Quoted;
                        else if (c == separator) fields.Add("");
                        else { field.Append((char)c); state = State.Unquoted; }
                        break;
                    case State.Unquoted:
                        if (c == separator) { fields.Add(field.ToString()); field.Clear(); state = State.FieldStart; }
                        else field.Append((char)c);
                        break;
                    case State.Quoted:
                        if (c == '"')
                        {
                            if (reader.Peek() == '"') { reader.Read(); field.Append('"'); }
                            else state = State.AfterQuote;
                        }
                        else field.Append((char)c);
                        break;
                    case State.AfterQuote:
                        if (c == separator) { fields.Add(field.ToString()); field.Clear(); state = State.FieldStart; }
                        else
                        {
                            error ??= $"unexpected '{(char)c}' after a closing quote (a quote inside a quoted field must be doubled)";
                            field.Append((char)c);
                        }
                        break;
                }
            }
            if (any)
            {
                fields.Add(field.ToString());
                yield return new CsvRow(fields.ToArray(), rowLine, error);
            }
            if (endOfFile) yield break;
        }
    }

    /// <summary>
    /// One record as RFC 4180 text (no line end): fields holding a separator, quote or line break are quoted, and so is
    /// a lone empty field, which would otherwise read back as a blank line.
    /// </summary>
    public static string FormatRow(IReadOnlyList<string> fields, char separator = ',')
    {
        ArgumentNullException.ThrowIfNull(fields);
        if (fields.Count == 1 && fields[0].Length == 0) return "\"\"";
        return string.Join(separator, fields.Select(f => f.AsSpan().IndexOfAny(separator, '"', '\r') >= 0 || f.Contains('\n')
            ? "\"" + f.Replace("\"", "\"\"") + "\""
            : f));
    }

    private enum State { FieldStart, Unquoted, Quoted, AfterQuote }
}
