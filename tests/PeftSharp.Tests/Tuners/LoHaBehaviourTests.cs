using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.LoHa;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

public class LoHaBehaviourTests
{
    [Theory]
    [InlineData(256, -1, 16, 16)]
    [InlineData(128, -1, 8, 16)]
    [InlineData(127, -1, 1, 127)]
    [InlineData(128, 4, 4, 32)]
    [InlineData(64, -1, 8, 8)]
    [InlineData(96, -1, 8, 12)]
    public void LoKrFactorisesAsPeft(int dimension, int factor, int m, int n) =>
        Assert.Equal((m, n), PeftSharp.Tuners.LoKr.LoKrConfig.Factorize(dimension, factor));

    [Fact]
    public void StartsAsTheIdentityAndRefusesGpt2sConv1DAsPeftDoes()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        var ids = tensor(new long[,] { { 1, 2, 3, 4 } });
        Tensor Logits() { using (no_grad()) return model.forward(new ModelInputs { InputIds = ids }).Logits!; }
        var before = Logits();
        var peft = PeftModel.Create(model, LoHaConfig.Read(new JsonConfig(new JsonObject { ["peft_type"] = "LOHA", ["r"] = 4 }, "t")));
        Assert.True(Logits().allclose(before, 0, 0));
        Assert.Equal(2 * (4 * 4 * 32 + 2 * 4 * 32 + 2 * 4 * 16), peft.TrainableParameters().Trainable); // q: 32->32, v: 32->16

        using var gpt2 = TinyModels.Create(TinyModels.Gpt2());
        var e = Assert.Throws<PeftException>(() => PeftModel.Create(gpt2, LoHaConfig.Read(new JsonConfig(new JsonObject { ["peft_type"] = "LOHA" }, "t"))));
        Assert.Contains("match no module", e.Message);
    }
}
