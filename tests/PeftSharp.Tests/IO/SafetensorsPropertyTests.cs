using System.Buffers.Binary;
using System.Text;
using System.Text.RegularExpressions;
using CsCheck;
using PeftSharp.IO.Safetensors;
using TorchSharp;

namespace PeftSharp.Tests.IO;

public class SafetensorsPropertyTests
{
    /// <summary>Names built from fragments that stress escaping and UTF-8 ordering, never unpaired surrogates.</summary>
    private static readonly Gen<string> Name = Gen.OneOfConst("a", "b.", "layers.0.", "weight", "é", "😀", "\uE000", "\"", "\\", "\n", "\u0001", " ", "/")
        .Array[1, 4].Select(parts => string.Concat(parts));

    private static readonly Gen<(string Name, SafetensorsDType DType, long[] Shape, int Seed)> TensorSpec =
        Gen.Select(Name, Gen.Enum<SafetensorsDType>(), Gen.Int[0, 4].Array[0, 3], Gen.Int,
            (n, d, s, seed) => (n, d, s.Select(x => (long)x).ToArray(), seed));

    private static readonly Gen<Dictionary<string, string>?> Metadata =
        Gen.Frequency((1, Gen.Const((Dictionary<string, string>?)null)),
                      (3, Gen.Select(Name, Name).Array[0, 3].Select(kvs => (Dictionary<string, string>?)kvs.DistinctBy(kv => kv.Item1).ToDictionary(kv => kv.Item1, kv => kv.Item2))));

    private static readonly string[] PythonDTypeOrder = ["I64", "F64", "F32", "I32", "BF16", "F16", "I16", "I8", "U8", "BOOL"];

    [Fact]
    public void RandomTensorsRoundTripInPythonsOrder()
    {
        using var dir = new TempDir();
        Gen.Select(TensorSpec.Array[0, 6], Metadata).Sample((specs, metadata) =>
        {
            var distinct = specs.DistinctBy(s => s.Name).ToList();
            var tensors = distinct.Select(s => new KeyValuePair<string, torch.Tensor>(
                s.Name, SafetensorsRoundTripTests.RandomTensor(s.DType, s.Shape, s.Seed))).ToList();
            var path = dir.File(Guid.NewGuid().ToString("N"));
            try
            {
                SafetensorsWriter.Write(path, tensors, metadata);
                using (var file = SafetensorsFile.Open(path))
                {
                    var expectedOrder = distinct
                        .OrderBy(s => Array.IndexOf(PythonDTypeOrder, SafetensorsDTypes.ToHeaderString(s.DType)))
                        .ThenBy(s => Encoding.UTF8.GetBytes(s.Name), Comparer<byte[]>.Create((x, y) => x.AsSpan().SequenceCompareTo(y)))
                        .Select(s => s.Name);
                    Assert.Equal(expectedOrder, file.Keys);
                    Assert.Equal(metadata ?? [], file.Metadata);
                    Assert.Equal(0, file.DataStart % 8);
                    foreach (var (name, original) in tensors)
                    {
                        var entry = file.GetEntry(name);
                        Assert.Equal(original.shape, entry.Shape);
                        using var loaded = file.Load(name);
                        Assert.Equal(original.dtype, loaded.dtype);
                        Assert.Equal(original.shape, loaded.shape);
                        Assert.True(original.bytes.SequenceEqual(loaded.bytes), name);
                    }
                }
                using var ms = new MemoryStream();
                SafetensorsWriter.WriteTo(ms, tensors, metadata);
                Assert.Equal(File.ReadAllBytes(path), ms.ToArray());
            }
            finally
            {
                foreach (var (_, t) in tensors) t.Dispose();
                File.Delete(path);
            }
        }, iter: 300);
    }

    /// <summary>A small valid file whose header has every kind of field the mutations below go after.</summary>
    private static byte[] ValidFile()
    {
        using var a = torch.arange(6, dtype: torch.ScalarType.Float32).reshape(2, 3);
        using var b = torch.tensor(new long[] { 1, 2, 3 });
        using var c = torch.tensor(true);
        using var d = torch.empty([0, 2], torch.ScalarType.BFloat16);
        using var ms = new MemoryStream();
        SafetensorsWriter.WriteTo(ms, [new("a", a), new("b", b), new("c", c), new("d", d)], new Dictionary<string, string> { ["format"] = "pt" });
        return ms.ToArray();
    }

    private static readonly string[] DTypeStrings = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL", "U16", "F8_E4M3", "", "f32"];

    private static readonly Regex Number = new(@"-?\d+", RegexOptions.CultureInvariant);

    private static string RandomNumber(Random r, string old) => r.Next(8) switch
    {
        0 => old,
        1 => (long.Parse(old) + r.Next(-9, 10)).ToString(),
        2 => r.NextInt64(0, 200).ToString(),
        3 => r.NextInt64().ToString(),
        4 => "-" + r.Next(1, 100),
        5 => "99999999999999999999999",
        6 => "4611686018427387904",
        _ => r.Next(2) == 0 ? "0" : "1.5",
    };

    private static readonly string[] BoundaryDimensions = ["0", "0", "1", "2", "3037000500", "4611686018427387904", "9223372036854775807"];

    private static string Dimension(Random r) =>
        r.Next(4) == 0 ? RandomNumber(r, "0") : BoundaryDimensions[r.Next(BoundaryDimensions.Length)];

    /// <summary>Rewrites one randomly chosen match, so the other entries stay valid and the change is what gets tested.</summary>
    private static string ReplaceOne(string header, string pattern, Random r, Func<string, string> rewrite)
    {
        var matches = Regex.Matches(header, pattern);
        if (matches.Count == 0) return header;
        var m = matches[r.Next(matches.Count)];
        return header[..m.Index] + rewrite(m.Value) + header[(m.Index + m.Length)..];
    }

    /// <summary>Corrupts a valid file in one of several ways, some at the byte level, some keeping the JSON parseable.</summary>
    private static byte[] Corrupt(byte[] valid, int kind, int seed)
    {
        var r = new Random(seed);
        var bytes = (byte[])valid.Clone();
        int n = (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        string header = Encoding.UTF8.GetString(bytes, 8, n);
        byte[] data = bytes[(8 + n)..];
        switch (kind)
        {
            case 0: // truncate anywhere
                return bytes[..r.Next(bytes.Length)];
            case 1: // flip header bytes
                for (int i = r.Next(1, 5); i > 0; i--) bytes[8 + r.Next(n)] ^= (byte)r.Next(1, 256);
                return bytes;
            case 2: // absurd header lengths
                ulong[] lengths = [0, 1, (ulong)n - 1, (ulong)n + 1, (ulong)n + 8, (ulong)bytes.Length - 8, (ulong)bytes.Length,
                    100_000_000, 100_000_001, 1UL << 31, (1UL << 32) + (ulong)n, 1UL << 63, ulong.MaxValue, (ulong)r.NextInt64()];
                BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengths[r.Next(lengths.Length)]);
                return bytes;
            case 3: // random data_offsets, header length kept consistent
                return RawSafetensors.Build(ReplaceOne(header, @"""data_offsets"":\[[^\]]*\]", r,
                    v => Number.Replace(v, x => RandomNumber(r, x.Value))), data);
            case 4 when r.Next(2) == 0: // random shape ranks too, e.g. [0, 2^62, 2^62] that has no elements but huge strides
                return RawSafetensors.Build(ReplaceOne(header, @"""shape"":\[[^\]]*\]", r,
                    _ => $"\"shape\":[{string.Join(",", Enumerable.Range(0, r.Next(5)).Select(_ => Dimension(r)))}]"), data);
            case 4: // random shape values
                return RawSafetensors.Build(ReplaceOne(header, @"""shape"":\[[^\]]*\]", r,
                    v => Number.Replace(v, x => RandomNumber(r, x.Value))), data);
            case 5: // random dtypes
                return RawSafetensors.Build(ReplaceOne(header, @"""dtype"":""[^""]*""", r,
                    _ => $"\"dtype\":\"{DTypeStrings[r.Next(DTypeStrings.Length)]}\""), data);
            case 6: // flip any bytes, data included (data flips must still load)
                for (int i = r.Next(1, 5); i > 0; i--) bytes[r.Next(bytes.Length)] ^= (byte)r.Next(1, 256);
                return bytes;
            default: // append junk
                return [.. bytes, .. Enumerable.Range(0, r.Next(1, 17)).Select(_ => (byte)r.Next(256))];
        }
    }

    [Fact]
    public void CorruptFilesLoadOrThrowOnlySafetensorsFormatException()
    {
        var valid = ValidFile();
        using var dir = new TempDir();
        Gen.Select(Gen.Int[0, 7], Gen.Int).Sample((kind, seed) =>
        {
            var bytes = Corrupt(valid, kind, seed);
            var path = dir.File(Guid.NewGuid().ToString("N") + ".safetensors");
            File.WriteAllBytes(path, bytes);
            try
            {
                using var file = SafetensorsFile.Open(path);
                long loadedBytes = 0;
                foreach (var entry in file.Entries)
                {
                    using var t = file.Load(entry.Name);
                    long size = t.numel() * t.element_size();
                    Assert.Equal(entry.ByteLength, size);
                    loadedBytes += size;
                }
                Assert.True(loadedBytes <= bytes.Length, $"loaded {loadedBytes} bytes from a {bytes.Length}-byte file");
            }
            catch (SafetensorsFormatException e)
            {
                Assert.Equal(path, e.FilePath);
            }
            finally
            {
                File.Delete(path);
            }
        }, iter: 3000);
    }
}
