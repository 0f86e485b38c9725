namespace PeftSharp.Tests.Support;

/// <summary>Paths into the copy of ../shared/fixtures that ships with the tests (TestData/fixtures).</summary>
public static class Fixtures
{
    public static string Root => Path.Combine(AppContext.BaseDirectory, "TestData", "fixtures");
    public static string Model(string name) => Path.Combine(Root, name);
    public static string Inputs(string name) => Path.Combine(Root, name, "inputs.json");
    public static string Reference(string name) => Path.Combine(Root, name, "reference_outputs.safetensors");
}
