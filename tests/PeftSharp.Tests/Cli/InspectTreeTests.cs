using PeftSharp.Tests.Support;

namespace PeftSharp.Tests.Cli;

/// <summary>`peft inspect`'s tree: the type names a reader knows, repeated layers once, a short tree unless --depth asks for more.</summary>
[Collection(CliRunner.Collection)]
public class InspectTreeTests
{
    private static string LoraAdapter => Path.Combine(Fixtures.Model("gpt2"), "adapters", "lora");

    [Fact]
    public void TypeNamesAreCleanAndRepeatedLayersShowOnce()
    {
        var (exit, output, err) = CliRunner.Run("inspect", "--model", Fixtures.Model("gpt2"), "--adapter", LoraAdapter);
        Assert.True(exit == 0, err);
        Assert.Contains("c_attn: LoraLayer", output);
        Assert.Contains("h: ModuleList (", output);
        Assert.DoesNotContain("`", output);
        Assert.DoesNotContain("TorchSharp.", output);
        Assert.Contains("1: 1 more Gpt2Block like 0", output);
        Assert.DoesNotContain("lora_A", output); // below the default depth
        Assert.Contains("--depth N", output);
    }

    [Fact]
    public void DepthShowsMore()
    {
        var (exit, output, err) = CliRunner.Run("inspect", "--model", Fixtures.Model("gpt2"), "--adapter", LoraAdapter, "--depth", "7");
        Assert.True(exit == 0, err);
        Assert.Contains("lora_A: AdapterDict (", output);
        Assert.Contains("weight [4, 64] Float32", output);
        Assert.DoesNotContain("deeper levels hidden", output);
    }

    [Fact]
    public void TypeNameDropsGenericArity()
    {
        Assert.Equal("ModuleList", PeftSharp.Cli.Commands.InspectCommand.TypeName(new TorchSharp.Modules.ModuleList<TorchSharp.torch.nn.Module>()));
        Assert.Equal("Linear", PeftSharp.Cli.Commands.InspectCommand.TypeName(TorchSharp.torch.nn.Linear(2, 2)));
    }
}
