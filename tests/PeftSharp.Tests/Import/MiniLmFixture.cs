using Microsoft.ML.OnnxRuntime;
using PeftSharp.Models;
using PeftSharp.Models.Import;
using PeftSharp.Tokenization;

namespace PeftSharp.Tests.Import;

/// <summary>
/// all-MiniLM-L6-v2 imported once per test class from the package DLL copied into the test output, loaded back
/// through AutoModel / AutoTokenizer, next to an ONNX Runtime session over the very same ONNX bytes (the reference).
/// </summary>
public sealed class MiniLmFixture : IDisposable
{
    public MiniLmFixture()
    {
        Folder = Path.Combine(Path.GetTempPath(), "peft-minilm-" + Guid.NewGuid().ToString("N"));
        Package = MiniLmPackage.Open(MiniLmPackage.BundledDllPath);
        ParameterCount = MiniLmImporter.WriteFolder(Package, Folder, overwrite: false);
        Model = AutoModel.FromPretrained(Folder, unusedKeys: keys => UnusedKeys = keys);
        Tokenizer = AutoTokenizer.FromFolder(Folder);
        Reference = new InferenceSession(Package.OnnxBytes);
    }

    public string Folder { get; }
    public MiniLmPackage Package { get; }
    public long ParameterCount { get; }
    public PretrainedModel Model { get; }
    public ITextTokenizer Tokenizer { get; }
    public IReadOnlyList<string> UnusedKeys { get; private set; } = [];
    public InferenceSession Reference { get; }

    /// <summary>The ONNX graph's second output: BERT's pooler output (its name is a number in this export).</summary>
    public const string PoolerOutputName = "924";

    /// <summary>ONNX Runtime's last_hidden_state [batch, seq, 384] for a padded batch.</summary>
    public float[] ReferenceLastHiddenState(BatchEncoding batch) => ReferenceOutput(batch, "last_hidden_state");

    /// <summary>One output of ONNX Runtime's run on a padded batch, flattened.</summary>
    public float[] ReferenceOutput(BatchEncoding batch, string output)
    {
        long[] shape = [batch.BatchSize, batch.SequenceLength];
        using var ids = OrtValue.CreateTensorValueFromMemory(batch.InputIdsFlat(), shape);
        using var mask = OrtValue.CreateTensorValueFromMemory(batch.AttentionMaskFlat(), shape);
        using var types = OrtValue.CreateTensorValueFromMemory(new long[batch.BatchSize * batch.SequenceLength], shape);
        using var options = new RunOptions();
        using var outputs = Reference.Run(options, ["input_ids", "attention_mask", "token_type_ids"], [ids, mask, types], [output]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public void Dispose()
    {
        Reference.Dispose();
        Model.Dispose();
        try { Directory.Delete(Folder, recursive: true); }
        catch (IOException) { /* a leftover temp folder is harmless */ }
    }
}
