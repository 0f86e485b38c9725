using System.Reflection;
using NetArchTest.Rules;
using PeftSharp.Tuners;

namespace PeftSharp.Tests;

/// <summary>
/// Layers point one way: Cli → Training → Tuners → Models → IO (Options and the root namespace below them all), and
/// no code outside a method's folder names that method. Read from the compiled IL (NetArchTest), so a wrong-way
/// reference fails here the day it is written, whatever file it is in.
/// </summary>
public class ArchitectureTests
{
    private static readonly Assembly Library = typeof(PeftModel).Assembly;
    private static readonly Assembly Cli = typeof(PeftSharp.Cli.CommandRunner).Assembly;

    private const string P = "PeftSharp.";

    /// <summary>For each layer, what it must not use. Unlisted pairs are allowed.</summary>
    public static TheoryData<string, string[]> Layers => new()
    {
        { "Options", ["IO", "Models", "Tuners", "Training", "Data", "Tokenization", "Generation", "Evaluation", "Embeddings"] },
        { "IO", ["Models", "Tuners", "Training", "Data", "Tokenization", "Generation", "Evaluation", "Embeddings", "Options"] },
        { "Models", ["Tuners", "Training", "Data", "Tokenization", "Generation", "Evaluation", "Embeddings"] },
        { "Tuners", ["Training", "Data", "Tokenization", "Generation", "Evaluation", "Embeddings"] },
        { "Generation", ["Tuners", "Training", "Data", "Evaluation"] },
        { "Embeddings", ["Tuners", "Training", "Data", "Generation", "Evaluation"] },
        { "Evaluation", ["Models", "Tuners", "Training", "Data", "Generation", "Embeddings"] },
        { "Tokenization", ["Models", "Tuners", "Training", "Data", "Generation", "Evaluation", "Embeddings"] },
        // Data turns records into the models' inputs (ModelInputs), so it sits above Models and below Training.
        { "Data", ["Tuners", "Training", "Generation", "Evaluation", "Embeddings"] },
    };

    [Theory]
    [MemberData(nameof(Layers))]
    public void A_layer_uses_only_the_layers_below_it(string layer, string[] forbidden)
    {
        var result = Types.InAssembly(Library).That().ResideInNamespace(P + layer)
            .ShouldNot().HaveDependencyOnAny(forbidden.Select(f => P + f).ToArray()).GetResult();
        Assert.True(result.IsSuccessful, $"{layer} must not use {string.Join(", ", forbidden)}; wrong-way references in: {Failing(result)}");
    }

    /// <summary>The namespaces of the method folders (PeftSharp.Tuners.Lora, ...): those holding an <see cref="PeftSharp.Tuners.ITuner"/>, found in the
    /// assembly so a new method is covered by itself; shared machinery under Tuners (Combination) is not a method.</summary>
    private static string[] MethodNamespaces() => Library.GetTypes().Where(t => typeof(PeftSharp.Tuners.ITuner).IsAssignableFrom(t) && !t.IsInterface).Select(t => t.Namespace ?? "")
        .Where(n => n.StartsWith(P + "Tuners.", StringComparison.Ordinal)).Select(n => string.Join('.', n.Split('.').Take(3))).Distinct().Order().ToArray();

    [Fact]
    public void The_method_folders_are_found()
    {
        Assert.Contains(P + "Tuners.Lora", MethodNamespaces());
        Assert.Contains(P + "Tuners.IA3", MethodNamespaces());
        Assert.DoesNotContain(P + "Tuners.Combination", MethodNamespaces());
    }

    [Fact]
    public void Training_names_no_method()
    {
        var result = Types.InAssembly(Library).That().ResideInNamespace(P + "Training").ShouldNot().HaveDependencyOnAny(MethodNamespaces()).GetResult();
        Assert.True(result.IsSuccessful, $"Training must find methods through TunerRegistry and ITuner, not by name; references in: {Failing(result)}");
    }

    [Fact]
    public void The_command_line_names_no_method()
    {
        var result = Types.InAssembly(Cli).ShouldNot().HaveDependencyOnAny(MethodNamespaces()).GetResult();
        Assert.True(result.IsSuccessful, $"the CLI must find methods through TunerRegistry, not by name; references in: {Failing(result)}");
    }

    [Fact]
    public void The_shared_tuner_core_names_no_method()
    {
        // PeftModel, the registry aside, knows adapters only through IAdapterLayer and ITuner.
        var result = Types.InAssembly(Library).That().ResideInNamespaceMatching(@"^PeftSharp\.Tuners$").And().DoNotHaveName(nameof(TunerRegistry))
            .ShouldNot().HaveDependencyOnAny(MethodNamespaces()).GetResult();
        Assert.True(result.IsSuccessful, $"the shared tuner core must not name a method; references in: {Failing(result)}");
    }

    private static string Failing(TestResult result) => string.Join(", ", result.FailingTypeNames ?? []);
}
