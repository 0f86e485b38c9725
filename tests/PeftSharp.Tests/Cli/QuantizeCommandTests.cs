using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// QLoRA from the command line on the bundled tiny GPT-2 (its Conv1D layers held in 4 bits): train, then forward and
/// generate on the same 4-bit base; two forward passes give the same bytes; a 4-bit base cannot be merged in place.
/// </summary>
[Collection(CliRunner.Collection)]
public sealed class QuantizeCommandTests : IDisposable
{
    private static readonly string Model = Path.Combine(AppContext.BaseDirectory, "models", "tiny-gpt2-en");
    private static readonly string Data = Path.Combine(AppContext.BaseDirectory, "data", "examples", "instructions.jsonl");
    private readonly string _dir = Directory.CreateTempSubdirectory("peft-qlora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Train_forward_and_generate_run_on_a_4_bit_base()
    {
        string run = Path.Combine(_dir, "run");
        var (exit, stdout, err) = CliRunner.Run("train", "--model", Model, "--data", Data, "--output", run, "--quantize", "nf4", "--double-quant",
            "--target-modules", "all-linear", "--max-steps", "2", "--eval-every", "0");
        Assert.True(exit == 0, err + stdout);
        Assert.Contains("base in 4 bits", err + stdout);
        Assert.Contains("| base in 4 bits | nf4 with double quantization, compute float32 |", File.ReadAllText(Path.Combine(run, "report.md")));
        var adapter = Path.Combine(run, "adapter");

        var inputs = Path.Combine(_dir, "inputs.json");
        File.WriteAllText(inputs, "{\"input_ids\": [[464, 582, 531, 326, 339]], \"attention_mask\": [[1, 1, 1, 1, 1]]}");
        string Forward(string name, params string[] extra)
        {
            var path = Path.Combine(_dir, name + ".safetensors");
            var (code, _, error) = CliRunner.Run(["forward", "--model", Model, "--adapter", adapter, "--inputs", inputs, "--out", path, .. extra]);
            Assert.True(code == 0, error);
            return path;
        }
        var a = Forward("a", "--quantize", "nf4", "--double-quant");
        var b = Forward("b", "--quantize", "nf4", "--double-quant");
        Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        var full = Forward("float");
        using (var q = SafetensorsFile.Open(a))
        using (var f = SafetensorsFile.Open(full))
        {
            var (lq, lf) = (q.Load("logits"), f.Load("logits"));
            double diff = lq.sub(lf).abs().max().item<float>();
            Assert.True(diff > 0 && diff < 0.2 * lf.abs().max().item<float>(), $"4-bit vs float logits differ by {diff}");
        }

        var (gen, text, genErr) = CliRunner.Run("generate", "--model", Model, "--adapter", adapter, "--quantize", "nf4", "--double-quant",
            "--prompt", "The man said that", "--max-new-tokens", "5");
        Assert.True(gen == 0, genErr);
        Assert.False(string.IsNullOrWhiteSpace(text));

        // peft merge onto the 4-bit base: a float model of the dequantized base plus LoRA's change, which computes what the
        // 4-bit base with the adapter computes (up to the float rounding of adding the change into the weights).
        var merged = Path.Combine(_dir, "merged");
        var (m, mOut, mErr) = CliRunner.Run("merge", "--model", Model, "--adapter", adapter, "--quantize", "nf4", "--double-quant", "--out", merged);
        Assert.True(m == 0, mErr);
        Assert.Contains("dequantized", mErr);
        var mergedForward = Path.Combine(_dir, "merged.safetensors");
        var (mf, _, mfErr) = CliRunner.Run("forward", "--model", merged, "--inputs", inputs, "--out", mergedForward);
        Assert.True(mf == 0, mfErr);
        using (var q = SafetensorsFile.Open(a))
        using (var f = SafetensorsFile.Open(mergedForward))
        {
            var (lq, lm) = (q.Load("logits"), f.Load("logits"));
            double rel = lq.sub(lm).abs().div(lq.abs().add(1)).max().item<float>();
            Assert.True(rel < 1e-4, $"merged model vs 4-bit base with adapter: {rel:E2}");
        }
        // On request, the merge in 4 bits again (bitsandbytes' layout): smaller, with the change it makes measured and printed.
        var requantized = Path.Combine(_dir, "requantized");
        var (rq, _, rqErr) = CliRunner.Run("merge", "--model", Model, "--adapter", adapter, "--quantize", "nf4", "--double-quant", "--requantize", "--out", requantized);
        Assert.True(rq == 0, rqErr);
        Assert.Contains("re-quantizing the merged weights changes the outputs", rqErr);
        Assert.Contains("max |diff|", rqErr);
        Assert.Contains("\"quant_method\": \"bitsandbytes\"", File.ReadAllText(Path.Combine(requantized, "config.json")));
        Assert.True(new FileInfo(Path.Combine(requantized, "model.safetensors")).Length < new FileInfo(Path.Combine(merged, "model.safetensors")).Length);
        var requantizedForward = Path.Combine(_dir, "requantized.safetensors");
        var (rf, _, rfErr) = CliRunner.Run("forward", "--model", requantized, "--inputs", inputs, "--out", requantizedForward);
        Assert.True(rf == 0, rfErr);
        using (var q = SafetensorsFile.Open(a))
        using (var r = SafetensorsFile.Open(requantizedForward))
        {
            var (lq, lr) = (q.Load("logits"), r.Load("logits"));
            double diff = lq.sub(lr).abs().max().item<float>();
            Assert.True(diff > 0 && diff < 0.2 * lq.abs().max().item<float>(), $"re-quantized merge vs 4-bit base with adapter: {diff}");
        }
        // The 4-bit checkpoint is a QLoRA base as it is (as one from the Hub): LoRA trains on it; full fine-tuning is refused.
        var (t4, t4Out, t4Err) = CliRunner.Run("train", "--model", requantized, "--data", Data, "--output", Path.Combine(_dir, "run4"), "--max-steps", "1", "--eval-every", "0");
        Assert.True(t4 == 0, t4Err + t4Out);
        Assert.Contains("stored in the checkpoint", t4Err + t4Out);
        var (full4, _, full4Err) = CliRunner.Run("train", "--model", requantized, "--data", Data, "--output", Path.Combine(_dir, "run5"), "--method", "full", "--max-steps", "1");
        Assert.Equal(2, full4);
        Assert.Contains("4-bit and frozen", full4Err);
        Assert.False(Directory.Exists(Path.Combine(_dir, "run5")));
        var (rfl, _, rflErr) = CliRunner.Run("merge", "--model", Model, "--adapter", adapter, "--requantize", "--out", Path.Combine(_dir, "nothing"));
        Assert.Equal(2, rfl);
        Assert.Contains("not 4-bit", rflErr);

        var (none, _, noneErr) = CliRunner.Run("merge", "--model", Model, "--out", Path.Combine(_dir, "nothing"));
        Assert.Equal(2, none);
        Assert.Contains("give --adapter", noneErr);

        var (merge, _, mergeErr) = CliRunner.Run("forward", "--model", Model, "--adapter", adapter, "--inputs", inputs, "--out", Path.Combine(_dir, "m.safetensors"),
            "--merge", "--quantize", "nf4");
        Assert.Equal(2, merge);
        Assert.Contains("4-bit", mergeErr);
    }
}
