using CsCheck;
using PeftSharp.Data;

namespace PeftSharp.Tests.Data;

public class CsvParserPropertyTests
{
    /// <summary>Fields built from fragments that need quoting: separators, quotes, every kind of line end.</summary>
    private static readonly Gen<string> Field = Gen.OneOfConst("", "a", "b c", ",", "\"", "\n", "\r\n", "\r", "é", " ", "x\"y")
        .Array[0, 4].Select(parts => string.Concat(parts));

    [Fact]
    public void FormattedRowsParseBackWithTheirStartingLines()
    {
        Gen.Int[1, 4].SelectMany(columns => Field.Array[columns].Array[1, 6]).Sample(rows =>
        {
            var text = string.Join("\n", rows.Select(r => CsvParser.FormatRow(r))) + "\n";
            var parsed = CsvParser.Parse(new StringReader(text)).ToList();
            Assert.Equal(rows.Length, parsed.Count);
            long expectedLine = 1;
            for (int i = 0; i < rows.Length; i++)
            {
                Assert.Null(parsed[i].Error);
                Assert.Equal(rows[i], parsed[i].Fields);
                Assert.Equal(expectedLine, parsed[i].Line);
                expectedLine += 1 + rows[i].Sum(LineBreaks);
            }
        });
    }

    private static int LineBreaks(string s) => s.Replace("\r\n", "\n").Count(c => c is '\n' or '\r');
}
