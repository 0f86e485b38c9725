using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tuners;
using PeftSharp.Tuners.IA3;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Tuners;

public class IA3BehaviourTests
{
    private static Tensor Logits(PretrainedModel m)
    {
        using (no_grad()) return m.forward(new ModelInputs { InputIds = tensor(new long[,] { { 1, 2, 3, 4, 5 } }) }).Logits!;
    }

    [Fact]
    public void DefaultsFollowPeftAndOnesAreTheIdentity()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Llama());
        var before = Logits(model);
        var peft = PeftModel.Create(model, IA3Config.Read(new JsonConfig(new JsonObject { ["peft_type"] = "IA3", ["task_type"] = "CAUSAL_LM" }, "t")));
        Assert.True(Logits(model).allclose(before, 0, 0));
        var config = (IA3Config)peft.Configs[PeftModel.DefaultAdapter];
        Assert.Equal(["k_proj", "v_proj", "down_proj"], config.Targets.TargetList);
        var down = (IA3Layer)ModuleTree.Get(model, "model.layers.0.mlp.down_proj");
        var k = (IA3Layer)ModuleTree.Get(model, "model.layers.0.self_attn.k_proj");
        Assert.True(down.IsFeedforward);
        Assert.False(k.IsFeedforward);
        Assert.Equal(2 * (16 + 16 + 64), peft.TrainableParameters().Trainable); // k, v outputs (2 kv heads x 8) and down_proj's input
    }

    [Fact]
    public void MergedRandomVectorsGiveTheUnmergedOutputs()
    {
        using var scope = NewDisposeScope();
        using var model = TinyModels.Create(TinyModels.Gpt2());
        var peft = PeftModel.Create(model, IA3Config.Read(new JsonConfig(new JsonObject { ["peft_type"] = "IA3", ["init_ia3_weights"] = false }, "t")));
        var unmerged = Logits(model);
        peft.MergeAdapter();
        Assert.True(Logits(model).allclose(unmerged, 1e-4, 1e-5));
        peft.UnmergeAdapter();
        Assert.True(Logits(model).allclose(unmerged, 1e-4, 1e-5));
    }
}
