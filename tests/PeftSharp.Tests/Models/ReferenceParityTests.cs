using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models;

/// <summary>Our forward pass against Python transformers' reference outputs, one row per fixture model.</summary>
public class ReferenceParityTests
{
    public static TheoryData<string> ModelFixtures => new() { "gpt2", "llama", "bert", "t5" };

    [Theory]
    [MemberData(nameof(ModelFixtures))]
    public void OutputsMatchTransformers(string fixture)
    {
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Fixtures.Model(fixture));
        var inputs = ModelInputsFile.Load(Fixtures.Inputs(fixture), model.InputEmbeddings.weight!.shape[0]);
        using var reference = SafetensorsFile.Open(Fixtures.Reference(fixture));
        ModelOutput output;
        using (no_grad()) output = model.forward(inputs);
        var named = output.Named().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Subset(named.Keys.ToHashSet(), reference.Keys.ToHashSet());
        foreach (var key in reference.Keys)
        {
            var err = Parity.MaxRelativeError(named[key], reference.Load(key), inputs.AttentionMask);
            Assert.True(err < Parity.Tolerance, $"{fixture} {key}: max relative error {err:E3}");
        }
    }

    [Theory]
    [InlineData("gpt2", 172_288)]
    [InlineData("llama", 202_048)]
    [InlineData("bert", 143_682)]
    [InlineData("t5", 228_864)]
    public void ParameterCountMatchesTransformers(string fixture, long expected)
    {
        using var model = AutoModel.FromPretrained(Fixtures.Model(fixture));
        Assert.Equal(expected, model.parameters().Sum(p => p.numel()));
    }
}
