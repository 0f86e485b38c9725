using System.Text.Json.Nodes;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Combination;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners.Combination;

/// <summary>
/// PEFT's combinations of two LoRA adapters (fixtures/*/adapters/multi_lora: lora_x r=4 alpha=8 and lora_y r=4
/// alpha=16, combined by PEFT 0.18.1's add_weighted_adapter with the settings index.json records) made again here from
/// lora_x and lora_y: the combined adapter's outputs equal PEFT's. The *_scaled_once folders apply each adapter's
/// scaling once (the default here); comb_svd has PEFT 0.18.1's double scaling and is reproduced with
/// <see cref="AdapterCombination.Peft018SvdScaling"/>. One row per model and combined folder, found from index.json.
/// </summary>
public class CombinationFixtureTests
{
    private static JsonObject MultiLora(string model) =>
        JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Root, "index.json")))!["models"]![model]!["methods"]!["multi_lora"]!["adapters"]!.AsObject();

    public static TheoryData<string, string> Combined()
    {
        var data = new TheoryData<string, string>();
        foreach (var model in new[] { "gpt2", "llama", "bert", "t5" })
            foreach (var (name, entry) in MultiLora(model))
                if (entry?["combination"] is JsonObject) data.Add(model, name);
        return data;
    }

    [Fact]
    public void EveryCombinationTypeOfTheFixturesIsARow()
    {
        var types = Combined().Select(r => (string)r[1]).ToHashSet();
        Assert.Superset(new HashSet<string> { "comb_linear", "comb_cat", "comb_svd", "comb_ties", "comb_svd_scaled_once", "comb_ties_svd_scaled_once", "comb_magnitude_prune_svd_scaled_once" }, types);
    }

    [Theory]
    [MemberData(nameof(Combined))]
    public void CombiningTheSourcesGivesPeftsOutputs(string model, string folder)
    {
        using var scope = NewDisposeScope();
        var entry = MultiLora(model)[folder]!;
        var c = entry["combination"]!;
        var type = CombinationTypes.Parse(c["combination_type"]!.GetValue<string>());
        var combination = new AdapterCombination(type)
        {
            Density = c["density"]?.GetValue<double>(),
            SvdRank = c["svd_rank"]?.GetValue<int>(),
            // Folders made with PEFT 0.18.1's own weights (no "scaled once" call) carry its double SVD scaling.
            Peft018SvdScaling = type.IsSvd() && entry["peft_call"] is null,
        };
        var adapters = c["adapters"]!.AsArray().Select(a => a!.GetValue<string>()).ToList();
        var weights = c["weights"]!.AsArray().Select(w => w!.GetValue<double>()).ToList();

        var root = Path.Combine(Fixtures.Model(model), "adapters", "multi_lora");
        using var baseModel = AutoModel.FromPretrained(Fixtures.Model(model));
        var peft = PeftModel.Load(baseModel, Path.Combine(root, adapters[0]), adapters[0]);
        foreach (var a in adapters.Skip(1)) peft.LoadAdapter(Path.Combine(root, a), a);
        peft.AddWeightedAdapter(adapters, weights, "combined", combination);
        peft.SetAdapter("combined", trainable: false);

        var inputs = ModelInputsFile.Load(Fixtures.Inputs(model), baseModel.InputEmbeddings.weight!.shape[0]);
        using var reference = SafetensorsFile.Open(Path.Combine(root, folder, "reference_outputs.safetensors"));
        Dictionary<string, Tensor> ours;
        using (no_grad()) ours = baseModel.forward(inputs).Named().ToDictionary(kv => kv.Key, kv => kv.Value);
        var keys = reference.Keys.Where(k => !k.StartsWith("merged_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(keys);
        foreach (var key in keys)
        {
            double err = Parity.MaxRelativeError(ours[key], reference.Load(key), inputs.AttentionMask!);
            Assert.True(err < Parity.Tolerance, $"{model}/{folder} ({combination}) {key}: max relative error {err:E3}");
        }
        // The combination's config follows PEFT's rules: r from the type, lora_alpha = r (scaling 1), no rsLoRA.
        var config = (PeftSharp.Tuners.Lora.LoraConfig)peft.Configs["combined"];
        var expectedRank = JsonNode.Parse(File.ReadAllText(Path.Combine(root, folder, PeftModel.ConfigFile)))!["r"]!.GetValue<int>();
        Assert.Equal(expectedRank, config.R);
        Assert.Equal(config.R, config.LoraAlpha);
        Assert.False(config.UseRsLora);
    }
}
