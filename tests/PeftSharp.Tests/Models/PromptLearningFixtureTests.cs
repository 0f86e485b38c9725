using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models;

/// <summary>
/// The forward-hook seam against PEFT 0.18.1's prompt_tuning and prefix_tuning reference outputs: a test hook that
/// reshapes the saved prompt_embeddings as PEFT does must reproduce PEFT's outputs on all four architectures. This
/// pins what the models do with a prefix (mask coverage, shifted positions, T5's decoder-only prefix and relative
/// bias, BERT's position offset) and with prepended embeddings (outputs keep the virtual positions).
/// </summary>
public class PromptLearningFixtureTests
{
    public static TheoryData<string, string> Fixtures => new()
    {
        { "gpt2", "prefix_tuning" }, { "llama", "prefix_tuning" }, { "bert", "prefix_tuning" }, { "t5", "prefix_tuning" },
        { "gpt2", "prompt_tuning" }, { "llama", "prompt_tuning" }, { "bert", "prompt_tuning" }, { "t5", "prompt_tuning" },
    };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void HookReproducesPeftOutputs(string fixture, string method)
    {
        using var scope = NewDisposeScope();
        var dir = Path.Combine(Support.Fixtures.Model(fixture), "adapters", method);
        using var model = AutoModel.FromPretrained(Support.Fixtures.Model(fixture));
        var inputs = ModelInputsFile.Load(Support.Fixtures.Inputs(fixture), model.InputEmbeddings.weight!.shape[0]);
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "adapter_config.json")))!;
        int virtualTokens = config["num_virtual_tokens"]!.GetValue<int>();
        using var weights = SafetensorsFile.Open(Path.Combine(dir, "adapter_model.safetensors"));
        var embeddings = weights.Load("prompt_embeddings");
        CopySavedClassifier(model, weights);

        model.ForwardHooks = [method == "prefix_tuning"
            ? new PrefixHook(PrefixHook.FromPeft(embeddings, config["num_layers"]!.GetValue<int>(),
                config["num_attention_heads"]!.GetValue<int>(), config["num_transformer_submodules"]!.GetValue<int>()))
            // T5 saves 2 x V rows (encoder and decoder submodules); PEFT's seq2seq prompt tuning uses the first V.
            : new VirtualTokensHook(embeddings[..virtualTokens])];
        Dictionary<string, Tensor> ours;
        using (no_grad()) ours = model.forward(inputs).Named().ToDictionary(kv => kv.Key, kv => kv.Value);

        using var reference = SafetensorsFile.Open(Path.Combine(dir, "reference_outputs.safetensors"));
        var mask = inputs.AttentionMask!;
        var withVirtual = cat([ones(mask.shape[0], virtualTokens, dtype: mask.dtype), mask], 1);
        foreach (var key in reference.Keys)
        {
            var expected = reference.Load(key);
            var err = Parity.MaxRelativeError(ours[key], expected, expected.dim() >= 2 && expected.shape[1] == withVirtual.shape[1] ? withVirtual : mask);
            Assert.True(err < Parity.Tolerance, $"{fixture}/{method} {key}: max relative error {err:E3}");
        }
        // Not an identity: the base model's outputs are far from the adapter's.
        model.ForwardHooks = [];
        using var baseReference = SafetensorsFile.Open(Support.Fixtures.Reference(fixture));
        var hiddenKey = fixture == "t5" ? "decoder_last_hidden_state" : "last_hidden_state";
        var adapted = reference.Load(hiddenKey);
        var plain = baseReference.Load(hiddenKey);
        Assert.True(adapted[.., ^(int)plain.shape[1]..].sub(plain).abs().max().item<float>() > 0.1f, "the reference differs from the base");
    }

    /// <summary>SEQ_CLS adapters save the classifier (modules_to_save); use the saved copy as PEFT does.</summary>
    private static void CopySavedClassifier(PretrainedModel model, SafetensorsFile weights)
    {
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
            if (weights.Contains("base_model." + name)) p.copy_(weights.Load("base_model." + name));
    }
}
