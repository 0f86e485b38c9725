using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Vera;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

public class VeraBehaviourTests
{
    [Fact]
    public void ProjectionsFromTheKeyEqualPeftsAndTheDefaultInitIsTheIdentity()
    {
        using var scope = NewDisposeScope();
        using var model = AutoModel.FromPretrained(Fixtures.Model("llama"));
        var before = model.forward(new ModelInputs { InputIds = tensor(new long[,] { { 1, 2, 3 } }) }).Logits!.detach().clone();
        var peft = PeftModel.Create(model, VeraConfig.Read(new JsonConfig(new JsonObject
        {
            ["peft_type"] = "VERA", ["r"] = 16, ["target_modules"] = new JsonArray("v_proj", "q_proj"), ["projection_prng_key"] = 0,
        }, "t")));
        using (no_grad())
            Assert.True(model.forward(new ModelInputs { InputIds = tensor(new long[,] { { 1, 2, 3 } }) }).Logits!.allclose(before, 0, 0));
        using var file = SafetensorsFile.Open(Path.Combine(Fixtures.Model("llama"), "adapters", "vera", PeftModel.WeightsFile));
        var ours = peft.AdapterStateDict(PeftModel.DefaultAdapter);
        Assert.True(ours["base_model.vera_A"].allclose(file.Load("base_model.vera_A"), 0, 0), "vera_A differs from PEFT's for projection_prng_key 0");
        Assert.True(ours["base_model.vera_B"].allclose(file.Load("base_model.vera_B"), 0, 0), "vera_B differs from PEFT's for projection_prng_key 0");
    }
}
