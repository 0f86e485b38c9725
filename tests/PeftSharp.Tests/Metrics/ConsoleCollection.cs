namespace PeftSharp.Tests.Metrics;

/// <summary>Tests that redirect Console.Out/Error, which is process-wide, run one at a time in this collection.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ConsoleCollection
{
    public const string Name = "Console";
}
