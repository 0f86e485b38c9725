namespace PeftSharp.Tokenization;

/// <summary>
/// Opens the tokenizer of a Hugging Face model folder, whichever files it ships, the way transformers'
/// AutoTokenizer would: tokenizer.json first, then vocab.json + merges.txt, then vocab.txt, then a SentencePiece
/// model. A tokenizer.json using a component we do not implement falls back to the next file present.
/// </summary>
public static class AutoTokenizer
{
    /// <summary>The SentencePiece file names transformers uses (Llama/Mistral, T5).</summary>
    private static readonly string[] SentencePieceFiles = ["tokenizer.model", "spiece.model"];

    /// <summary>The tokenizer of a model folder, named as <c>AutoModel.FromPretrained</c> and transformers' <c>AutoTokenizer.from_pretrained</c>.</summary>
    public static ITextTokenizer FromPretrained(string modelDir) => FromFolder(modelDir);

    /// <summary>The older name of <see cref="FromPretrained"/>, kept so existing code keeps compiling.</summary>
    public static ITextTokenizer FromFolder(string modelDir)
    {
        ArgumentNullException.ThrowIfNull(modelDir);
        if (!Directory.Exists(modelDir)) throw new PeftException($"{modelDir}: the model folder does not exist");
        var config = TokenizerConfig.Load(modelDir);

        var loaders = new List<(string File, Func<ITextTokenizer> Load)>();
        string Path_(string name) => Path.Combine(modelDir, name);
        if (File.Exists(Path_("tokenizer.json")))
            loaders.Add(("tokenizer.json", () => TokenizerJsonLoader.Load(Path_("tokenizer.json"), modelDir, config)));
        if (File.Exists(Path_("vocab.json")) && File.Exists(Path_("merges.txt")))
            loaders.Add(("vocab.json + merges.txt", () => LegacyVocabularyTokenizers.ByteLevelBpe(modelDir, config)));
        if (File.Exists(Path_("vocab.txt")))
            loaders.Add(("vocab.txt", () => LegacyVocabularyTokenizers.Bert(modelDir, config)));
        foreach (var name in SentencePieceFiles)
            if (File.Exists(Path_(name)))
            {
                loaders.Add((name, () => SentencePieceTextTokenizer.Load(Path_(name), config)));
                break;
            }

        if (loaders.Count == 0)
        {
            string hint = File.Exists(Path_("vocab.json")) ? " (vocab.json is there but merges.txt is missing)" : "";
            throw new PeftException($"{modelDir}: no tokenizer files found{hint}; expected tokenizer.json, vocab.json + merges.txt, " +
                "vocab.txt, or a SentencePiece tokenizer.model / spiece.model.");
        }

        var skipped = new List<string>();
        foreach (var (file, load) in loaders)
        {
            try { return load(); }
            catch (UnsupportedTokenizerException e) when (file != loaders[^1].File)
            {
                skipped.Add(e.Message);
            }
            catch (UnsupportedTokenizerException e) when (skipped.Count > 0)
            {
                throw new PeftException(string.Join(Environment.NewLine, skipped.Append(e.Message)), e);
            }
        }
        throw new InvalidOperationException("unreachable: the last loader either returns or throws");
    }
}
