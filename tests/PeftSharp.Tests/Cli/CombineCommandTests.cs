using System.Text.Json.Nodes;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// <c>peft combine</c>, <c>merge --weights</c> and mixed batches (<c>--row-adapters</c>) on the llama fixture's
/// multi_lora adapters: the command line gives what PEFT's combinations give, what each row gives alone, and refuses
/// mistakes in one line without writing anything.
/// </summary>
[Collection(CliRunner.Collection)]
public class CombineCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("peft-combine-").FullName;
    private static readonly string Llama = Fixtures.Model("llama");
    private static readonly string MultiLora = Path.Combine(Llama, "adapters", "multi_lora");
    private static string X => "x=" + Path.Combine(MultiLora, "lora_x");
    private static string Y => "y=" + Path.Combine(MultiLora, "lora_y");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static JsonObject Entries() =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Root, "index.json")))!["models"]!["llama"]!["methods"]!["multi_lora"]!["adapters"]!.AsObject();

    public static TheoryData<string> CombinedFolders()
    {
        var data = new TheoryData<string>();
        foreach (var (name, entry) in Entries())
            if (entry?["combination"] is JsonObject) data.Add(name);
        return data;
    }

    /// <summary>The fixture's recorded combination as command-line arguments.</summary>
    private static List<string> ArgumentsOf(string folder)
    {
        var entry = Entries()[folder]!;
        var c = entry["combination"]!;
        string type = c["combination_type"]!.GetValue<string>();
        var args = new List<string> { "combine", "--model", Llama, "--combination", type };
        foreach (var a in c["adapters"]!.AsArray()) args.AddRange(["--adapter", Path.Combine(MultiLora, a!.GetValue<string>())]);
        args.Add("--weights=" + string.Join(",", c["weights"]!.AsArray().Select(w => w!.GetValue<double>().ToString(System.Globalization.CultureInfo.InvariantCulture))));
        if (c["density"] is { } d) args.AddRange(["--density", d.ToString()]);
        if (c["svd_rank"] is { } r) args.AddRange(["--svd-rank", r.ToString()]);
        if (type.Contains("svd", StringComparison.Ordinal) && entry["peft_call"] is null) args.Add("--peft018-svd-scaling");
        return args;
    }

    private static Dictionary<string, Tensor> Forward(string outPath, params string[] extra)
    {
        var (exit, _, err) = CliRunner.Run(["forward", "--model", Llama, "--inputs", Fixtures.Inputs("llama"), "--out", outPath, .. extra]);
        Assert.True(exit == 0, err);
        using var file = SafetensorsFile.Open(outPath);
        return file.Keys.ToDictionary(k => k, k => file.Load(k).MoveToOuterDisposeScope());
    }

    [Theory]
    [MemberData(nameof(CombinedFolders))]
    public void CombineWritesAnAdapterWithPeftsOutputs(string folder)
    {
        using var scope = NewDisposeScope();
        var outDir = Path.Combine(_dir, folder);
        var (exit, output, err) = CliRunner.Run([.. ArgumentsOf(folder), "--out", outDir]);
        Assert.True(exit == 0, err);
        Assert.Contains("combined", output);
        Assert.True(File.Exists(Path.Combine(outDir, "adapter_model.safetensors")));
        Assert.DoesNotContain(Directory.GetDirectories(_dir), d => Path.GetFileName(d).StartsWith('.'));

        var ours = Forward(Path.Combine(_dir, folder + ".safetensors"), "--adapter", outDir);
        using var reference = SafetensorsFile.Open(Path.Combine(MultiLora, folder, "reference_outputs.safetensors"));
        using var mask = ModelInputsFile.Load(Fixtures.Inputs("llama"), 1000).AttentionMask!;
        foreach (var key in reference.Keys.Where(k => !k.StartsWith("merged_", StringComparison.Ordinal)))
        {
            double e = Parity.MaxRelativeError(ours[key], reference.Load(key), mask);
            Assert.True(e < Parity.Tolerance, $"{folder} {key}: {e:E3}");
        }
    }

    [Fact]
    public void DareWithTheSameSeedWritesTheSameBytesAndAnotherSeedDiffers()
    {
        string Run(string name, string seed)
        {
            var outDir = Path.Combine(_dir, name);
            var (exit, _, err) = CliRunner.Run("combine", "--model", Llama, "--adapter", X, "--adapter", Y, "--weights", "0.6,0.5",
                "--combination", "dare_ties", "--density", "0.5", "--seed", seed, "--out", outDir);
            Assert.True(exit == 0, err);
            return Path.Combine(outDir, "adapter_model.safetensors");
        }
        var a = File.ReadAllBytes(Run("a", "7"));
        Assert.Equal(a, File.ReadAllBytes(Run("b", "7")));
        Assert.NotEqual(a, File.ReadAllBytes(Run("c", "8")));
    }

    public static TheoryData<string[], string> Mistakes => new()
    {
        { ["--combination", "ties", "--density", "0.5", "--weights", "1,1", "--adapter", X, "--adapter", "cat=" + Path.Combine(MultiLora, "comb_cat")], "need equal ranks" },
        { ["--combination", "ties", "--density", "1.5", "--weights", "1,1", "--adapter", X, "--adapter", Y], "density must be in (0, 1], got 1.5" },
        { ["--combination", "ties", "--density", "0", "--weights", "1,1", "--adapter", X, "--adapter", Y], "density must be in (0, 1], got 0" },
        { ["--combination", "linear", "--weights", "1", "--adapter", X, "--adapter", Y], "1 weight(s) for 2 adapter(s)" },
        { ["--combination", "linear", "--weights", "1,a", "--adapter", X, "--adapter", Y], "--weights: \"a\" is not a number" },
        { ["--combination", "average", "--weights", "1,1", "--adapter", X, "--adapter", Y], "unknown combination type \"average\"" },
        { ["--combination", "linear", "--density", "0.5", "--weights", "1,1", "--adapter", X, "--adapter", Y], "does not prune" },
        { ["--combination", "svd", "--weights", "1,1", "--adapter", X, "--adapter", "dora=" + Path.Combine(Llama, "adapters", "lora_dora")], "adapter \"dora\" cannot be combined: it uses DoRA" },
        { ["--combination", "linear", "--weights", "1,1", "--adapter", X, "--adapter", "x=" + Path.Combine(MultiLora, "lora_y")], "named \"x\"" },
        { ["--combination", "linear", "--peft018-svd-scaling", "--weights", "1,1", "--adapter", X, "--adapter", Y], "applies to the SVD types" },
    };

    [Theory]
    [MemberData(nameof(Mistakes))]
    public void MistakesAreOneLineAndWriteNothing(string[] args, string expected)
    {
        var outDir = Path.Combine(_dir, "never");
        var (exit, _, err) = CliRunner.Run(["combine", "--model", Llama, .. args, "--out", outDir]);
        Assert.Equal(2, exit);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
        Assert.False(Directory.Exists(outDir));
        Assert.Empty(Directory.GetFileSystemEntries(_dir));
    }

    [Fact]
    public void ANonEmptyOutputFolderIsRefusedAndKept()
    {
        var outDir = Path.Combine(_dir, "taken");
        Directory.CreateDirectory(outDir);
        File.WriteAllText(Path.Combine(outDir, "keep.txt"), "mine");
        var (exit, _, err) = CliRunner.Run("combine", "--model", Llama, "--adapter", X, "--adapter", Y, "--weights", "1,1", "--combination", "cat", "--out", outDir);
        Assert.Equal(2, exit);
        Assert.Contains("not empty", err);
        Assert.Equal(["keep.txt"], Directory.GetFileSystemEntries(outDir).Select(Path.GetFileName));
    }

    [Fact]
    public void ForwardRowAdaptersGivesEachRowWhatItsAdapterGivesAlone()
    {
        using var scope = NewDisposeScope();
        var mixed = Forward(Path.Combine(_dir, "mixed.safetensors"), "--adapter", X, "--adapter", Y, "--row-adapters", "y,__base__");
        var y = Forward(Path.Combine(_dir, "y.safetensors"), "--adapter", Y);
        var plain = Forward(Path.Combine(_dir, "base.safetensors"));
        foreach (var key in mixed.Keys)
        {
            Assert.True(mixed[key][0].allclose(y[key][0], 1e-5, 1e-5), $"{key} row 0 (y)");
            Assert.True(mixed[key][1].allclose(plain[key][1], 1e-5, 1e-5), $"{key} row 1 (base)");
        }
        Assert.False(y[mixed.Keys.First()][1].allclose(plain[mixed.Keys.First()][1], 1e-5, 1e-5)); // the adapter does change row 1
    }

    [Theory]
    [InlineData("y,__base", "row adapter \"__base\" is not loaded")]
    [InlineData("y", "1 adapter(s) for 2 input row(s)")]
    [InlineData("y,,x", "an empty name")]
    public void ForwardRowAdapterMistakesAreOneLine(string rows, string expected)
    {
        var (exit, _, err) = CliRunner.Run("forward", "--model", Llama, "--inputs", Fixtures.Inputs("llama"), "--out", Path.Combine(_dir, "o.safetensors"),
            "--adapter", X, "--adapter", Y, "--row-adapters", rows);
        Assert.Equal(2, exit);
        Assert.Contains(expected, err);
        Assert.Single(err.Trim().Split('\n'));
    }

    [Fact]
    public void GenerateOnePromptThroughEachAdapterInOneBatchEqualsEachAlone()
    {
        string[] Generate(params string[] extra)
        {
            var (exit, output, err) = CliRunner.Run(["generate", "--model", Llama, "--prompt-ids", "5,17,99,3", "--max-new-tokens", "6", "--stop-ids", "none", .. extra]);
            Assert.True(exit == 0, err);
            return output.Trim().Split('\n');
        }
        var batch = Generate("--adapter", X, "--adapter", Y, "--row-adapters", "x,y,__base__");
        Assert.Equal(3, batch.Length);
        Assert.Equal("[x] " + Generate("--adapter", X)[0], batch[0]);
        Assert.Equal("[y] " + Generate("--adapter", Y)[0], batch[1]);
        Assert.Equal("[__base__] " + Generate()[0], batch[2]);
        Assert.NotEqual(batch[0][4..], batch[2][11..]);
    }

    [Fact]
    public void WeightedMergeEqualsTheWeightedCatAdapter()
    {
        using var scope = NewDisposeScope();
        var merged = Path.Combine(_dir, "merged");
        var (exit, _, err) = CliRunner.Run("merge", "--model", Llama, "--adapter", X, "--adapter", Y, "--weights=1,-0.5", "--out", merged);
        Assert.True(exit == 0, err);
        var cat = Path.Combine(_dir, "cat");
        (exit, _, err) = CliRunner.Run("combine", "--model", Llama, "--adapter", X, "--adapter", Y, "--weights=1,-0.5", "--combination", "cat", "--out", cat);
        Assert.True(exit == 0, err);

        var viaAdapter = Forward(Path.Combine(_dir, "cat.safetensors"), "--adapter", cat);
        var outPath = Path.Combine(_dir, "merged.safetensors");
        (exit, _, err) = CliRunner.Run("forward", "--model", merged, "--inputs", Fixtures.Inputs("llama"), "--out", outPath);
        Assert.True(exit == 0, err);
        using var file = SafetensorsFile.Open(outPath);
        using var mask = ModelInputsFile.Load(Fixtures.Inputs("llama"), 1000).AttentionMask!;
        foreach (var key in file.Keys)
            Assert.True(Parity.MaxRelativeError(file.Load(key), viaAdapter[key], mask) < Parity.Tolerance, key);

        (exit, _, err) = CliRunner.Run("merge", "--model", Llama, "--adapter", X, "--adapter", Y, "--weights", "1", "--out", Path.Combine(_dir, "never"));
        Assert.Equal(2, exit);
        Assert.Contains("1 weight(s) for 2 adapter(s)", err);
    }
}
