using System.Text.Json.Nodes;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.IA3;
using PeftSharp.Tuners.Lora;

namespace PeftSharp.Tests.Tuners;

/// <summary>
/// A config we create from scratch writes exactly the fields PEFT 0.18 writes for that method, so Python PEFT
/// (which passes every key to its config class) reads our files without surprises.
/// </summary>
public class AdapterConfigFormatTests
{
    public static TheoryData<string, string> Methods => new()
    {
        { "LORA", "gpt2/adapters/lora" }, { "IA3", "llama/adapters/ia3" }, { "VERA", "llama/adapters/vera" }, { "LOHA", "llama/adapters/loha" }, { "LOKR", "llama/adapters/lokr" },
    };

    [Theory]
    [MemberData(nameof(Methods))]
    public void FreshConfigsHavePeftsFieldsAndNoOthers(string peftType, string fixture)
    {
        PeftConfig config = peftType switch
        {
            "LORA" => new LoraConfig { TaskType = "CAUSAL_LM" },
            "IA3" => new IA3Config { TaskType = "CAUSAL_LM" },
            "VERA" => new PeftSharp.Tuners.Vera.VeraConfig { TaskType = "CAUSAL_LM" },
            "LOHA" => new PeftSharp.Tuners.LoHa.LoHaConfig { TaskType = "CAUSAL_LM" },
            _ => new PeftSharp.Tuners.LoKr.LoKrConfig { TaskType = "CAUSAL_LM" },
        };
        var ours = JsonNode.Parse(config.ToJson())!.AsObject();
        var peft = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixtures.Root, fixture, PeftModel.ConfigFile)))!.AsObject();
        Assert.Equal(peft.Select(kv => kv.Key).Order(), ours.Select(kv => kv.Key).Order());
        Assert.Equal(peftType, ours["peft_type"]!.GetValue<string>());
        Assert.Equal(PeftConfig.PeftVersion, ours["peft_version"]!.GetValue<string>());
        var keys = ours.Select(kv => kv.Key).ToList();
        Assert.Equal(keys.Order(StringComparer.Ordinal), keys); // sorted, as PEFT's json.dump(sort_keys=True)
    }
}
