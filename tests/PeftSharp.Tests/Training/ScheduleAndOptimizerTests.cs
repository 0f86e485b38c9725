using PeftSharp.Training;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training;

public class ScheduleAndOptimizerTests
{
    [Fact]
    public void SchedulesWarmUpThenFollowTheirShape()
    {
        var linear = new LearningRateSchedule("linear", 10, 110);
        Assert.Equal(0.0, linear.Factor(0));
        Assert.Equal(0.5, linear.Factor(5));
        Assert.Equal(1.0, linear.Factor(10));
        Assert.Equal(0.5, linear.Factor(60), 12);
        Assert.Equal(0.0, linear.Factor(110));
        var cosine = new LearningRateSchedule("cosine", 0, 100);
        Assert.Equal(1.0, cosine.Factor(0));
        Assert.Equal(0.5, cosine.Factor(50), 12);
        Assert.Equal(1.0, new LearningRateSchedule("constant", 4, 100).Factor(99));
        Assert.Throws<PeftException>(() => new LearningRateSchedule("step", 0, 10).Factor(1));
    }

    /// <summary>Our AdamW and SGD against TorchSharp's implementations of torch.optim's algorithms.</summary>
    [Theory]
    [InlineData("adamw")]
    [InlineData("sgd")]
    public void OptimizersMatchTorchSharps(string kind)
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var target = randn(5, 3);
        var ours = new TorchSharp.Modules.Parameter(randn(5, 3));
        var theirs = new TorchSharp.Modules.Parameter(ours.detach().clone());
        var group = new ParamGroup("all", [("w", ours)], 0.05, 0.1);
        using PeftSharp.Training.Optimizer mine = kind == "adamw" ? new PeftSharp.Training.AdamW([group]) : new Sgd([group], 0.9);
        using TorchSharp.torch.optim.Optimizer reference = kind == "adamw"
            ? optim.AdamW([theirs], 0.05, weight_decay: 0.1)
            : optim.SGD([theirs], 0.05, momentum: 0.9, weight_decay: 0.1);
        for (int i = 0; i < 5; i++)
        {
            mine.ZeroGrad();
            ours.sub(target).pow(2).sum().backward();
            mine.Step();
            reference.zero_grad();
            theirs.sub(target).pow(2).sum().backward();
            reference.step();
        }
        Assert.True(ours.allclose(theirs, 1e-5, 1e-6), $"{kind}: {ours.sub(theirs).abs().max().item<float>()}");
    }
}
