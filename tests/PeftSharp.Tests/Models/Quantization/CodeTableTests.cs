using PeftSharp.Models.Quantization;
using static PeftSharp.Tests.Models.Quantization.Nf4Fixtures;

namespace PeftSharp.Tests.Models.Quantization;

/// <summary>The code tables against bitsandbytes' own (codes.safetensors), bit for bit.</summary>
public class CodeTableTests
{
    [Theory]
    [InlineData("code_nf4", FourBitType.Nf4)]
    [InlineData("code_fp4", FourBitType.Fp4)]
    public void FourBitTablesAreBitsandbytesTables(string key, FourBitType type)
    {
        using var file = Open("codes");
        using var expected = file.Load(key);
        AssertBitsEqual(Bits(expected), Bits(FourBitCodes.Table(type)), key);
    }

    [Fact]
    public void DynamicMapIsCreateDynamicMap()
    {
        using var file = Open("codes");
        using var expected = file.Load("code_dynamic");
        var ours = DynamicMap.Values();
        Assert.Equal(DynamicMap.Size, ours.Length);
        AssertBitsEqual(Bits(expected), Bits(ours), "code_dynamic");
    }

    [Fact]
    public void Fp4SortedOrderIsTheOneInTheManifest()
    {
        Assert.Equal([11L, 10, 13, 12, 15, 14, 9, 0, 8, 1, 6, 7, 4, 5, 2, 3], FourBitQuantizer.SortedOrder(FourBitType.Fp4));
        Assert.Equal(Enumerable.Range(0, 16).Select(i => (long)i), FourBitQuantizer.SortedOrder(FourBitType.Nf4));
    }
}
