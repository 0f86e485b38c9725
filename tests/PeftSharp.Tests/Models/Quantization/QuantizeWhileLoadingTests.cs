using PeftSharp.Models;
using PeftSharp.Models.Common;
using PeftSharp.Models.Quantization;
using PeftSharp.Tests.IO;
using PeftSharp.Tests.Support;
using TorchSharp;
using static PeftSharp.Tests.Tuners.SmallMethodBatches;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Models.Quantization;

/// <summary>
/// A folder loaded in 4 bits is built with uninitialised linear layers and quantized layer by layer as the loader fills
/// them (so the float model never exists at once): the result must be the model that loading in float and quantizing
/// afterwards gives, every tensor to the bit, and the uninitialised construction must not leak out of its scope.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class QuantizeWhileLoadingTests
{
    public static TheoryData<string> Architectures => new() { "llama", "gpt2", "bert" };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void Quantizing_while_loading_gives_the_model_that_quantizing_after_loading_gives(string arch)
    {
        using var scope = NewDisposeScope();
        using var dir = new TempDir();
        var folder = Path.Combine(dir.Path, "model");
        using (var source = TinyModels.Create(arch switch { "llama" => TinyModels.Llama(), "gpt2" => TinyModels.Gpt2(), _ => TinyModels.Bert() }, seed: 4))
            ModelSaver.Save(source, folder);
        foreach (var q in new[] { new QuantizationConfig(FourBitType.Nf4, DoubleQuant: true), new QuantizationConfig(FourBitType.Fp4) })
        {
            using var streamed = AutoModel.FromPretrained(folder, quantization: q);
            using var after = AutoModel.FromPretrained(folder);
            int quantized = ModelQuantizer.Quantize(after, q);
            Assert.True(quantized > 0);
            Assert.Equal(quantized, ModelQuantizer.Layers(streamed).Count());

            var expected = State(after);
            var actual = State(streamed);
            Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
            foreach (var (name, t) in expected)
            {
                Assert.Equal(t.dtype, actual[name].dtype);
                Assert.True(Same(t, actual[name]), $"{arch} {q}: {name} differs");
            }
            if (arch != "bert")
            {
                var batch = Batch(arch);
                Assert.True(Same(Logits(after, batch), Logits(streamed, batch)), $"{arch} {q}: logits differ");
            }
        }
    }

    private static Dictionary<string, Tensor> State(nn.Module model) =>
        model.named_parameters().Select(p => (p.name, (Tensor)p.parameter))
            .Concat(model.named_buffers().Select(b => (b.name, b.buffer)))
            .GroupBy(p => p.Item1).ToDictionary(g => g.Key, g => g.First().Item2);

    [Fact]
    public async Task Only_layers_made_inside_the_scope_are_left_uninitialised()
    {
        using var scope = NewDisposeScope();
        using (ModelLayers.WithoutInitialisation())
        {
            Assert.True(ModelLayers.Uninitialised);
            using (ModelLayers.WithoutInitialisation()) Assert.True(ModelLayers.Uninitialised);
            Assert.True(ModelLayers.Uninitialised); // nested scopes count
            using var inside = ModelLayers.Linear(64, 32);
            Assert.Equal(DeviceType.CPU, inside.weight!.device.type);
            Assert.Equal([32L, 64L], inside.weight.shape);
            Assert.Equal([32L], inside.bias!.shape);
            Assert.True(inside.weight.requires_grad);
        }
        Assert.False(ModelLayers.Uninitialised);
        manual_seed(1);
        using var outside = ModelLayers.Linear(64, 32);
        manual_seed(1);
        using var reference = nn.Linear(64, 32);
        Assert.True(Same(outside.weight!, reference.weight!), "a layer made after the scope must be initialised as nn.Linear is");
        var other = await Task.Run(() =>
        {
            using (ModelLayers.WithoutInitialisation()) { }
            return ModelLayers.Uninitialised;
        });
        Assert.False(other);
    }
}
