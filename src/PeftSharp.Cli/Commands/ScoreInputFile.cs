using System.Text;
using PeftSharp.Evaluation.Metrics;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// Reads a one-segment-per-line file for <c>peft score</c> the way sacreBLEU does (strict UTF-8, \n, \r\n or \r
/// line ends, trailing whitespace stripped), but refuses invalid bytes with a message instead of scoring garbage.
/// </summary>
public static class ScoreInputFile
{
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <param name="path">The file.</param>
    /// <param name="literalNewlines">Turn the two characters <c>\n</c> into a line break inside the segment (for rougeLsum).</param>
    public static List<string> ReadSegments(string path, bool literalNewlines)
    {
        byte[] bytes = File.ReadAllBytes(path);
        string text;
        try
        {
            text = StrictUtf8.GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            string where = e.Index >= 0 ? $" (byte {e.Index})" : "";
            throw new PeftException($"{path} is not valid UTF-8{where}", e);
        }
        if (text.StartsWith('\uFEFF')) text = text[1..];
        if (text.Length == 0) throw new PeftException($"{path} is empty");

        var lines = text.Replace("\r\n", "\n", StringComparison.Ordinal).Replace('\r', '\n').Split('\n').ToList();
        if (lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1); // the final line end does not start a segment
        return lines.Select(line =>
        {
            line = PyText.RStrip(line);
            return literalNewlines ? line.Replace("\\n", "\n", StringComparison.Ordinal) : line;
        }).ToList();
    }
}
