using System.Text.Json;

namespace PeftSharp.Tests.Metrics;

/// <summary>Reads the reference-value files in TestData/metrics (schema in their README.md).</summary>
internal static class MetricCases
{
    private static readonly Dictionary<string, JsonElement> Files = [];

    public static JsonElement File(string name)
    {
        lock (Files)
        {
            if (!Files.TryGetValue(name, out var root))
            {
                string path = Path.Combine(AppContext.BaseDirectory, "TestData", "metrics", name);
                root = JsonDocument.Parse(System.IO.File.ReadAllText(path)).RootElement.Clone();
                Files[name] = root;
            }
            return root;
        }
    }

    public static IEnumerable<JsonElement> Cases(string file) => File(file).GetProperty("cases").EnumerateArray();

    public static JsonElement Case(string file, string id) => Cases(file).Single(c => c.GetProperty("id").GetString() == id);

    public static string[] Hypotheses(JsonElement c) =>
        c.GetProperty("hypotheses").EnumerateArray().Select(h => h.GetString()!).ToArray();

    public static IReadOnlyList<string>[] References(JsonElement c) =>
        c.GetProperty("references").EnumerateArray()
            .Select(r => r.ValueKind == JsonValueKind.String
                ? (IReadOnlyList<string>)[r.GetString()!]
                : r.EnumerateArray().Select(x => x.GetString()!).ToArray())
            .ToArray();

    public static double[] Doubles(JsonElement array) => array.EnumerateArray().Select(x => x.GetDouble()).ToArray();

    /// <summary>The signature without its version field, which names the implementation and so differs by design.</summary>
    public static string WithoutVersion(string signature) => signature[..signature.IndexOf("|version:", StringComparison.Ordinal)];

    public static void Close(double expected, double actual, string what)
    {
        Assert.True(Math.Abs(expected - actual) <= 1e-6, $"{what}: expected {expected:R}, got {actual:R}");
    }
}
