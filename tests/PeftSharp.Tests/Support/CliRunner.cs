namespace PeftSharp.Tests.Support;

/// <summary>Runs the peft command in-process and captures what it prints; Console is process-wide, hence the collection.</summary>
public static class CliRunner
{
    public const string Collection = "console";

    public static (int Exit, string Out, string Err) Run(params string[] args)
    {
        var oldOut = Console.Out;
        var oldErr = Console.Error;
        var o = new StringWriter();
        var e = new StringWriter();
        Console.SetOut(o);
        Console.SetError(e);
        try
        {
            int exit = PeftSharp.Cli.Program.Run(args);
            return (exit, o.ToString(), e.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
        }
    }
}

[CollectionDefinition(CliRunner.Collection, DisableParallelization = true)]
public sealed class ConsoleCollection;

/// <summary>
/// Tests that compare two runs bit for bit: libtorch's random generator is process-wide, so nothing else may
/// draw from it meanwhile (dropout masks would differ). xunit runs this collection alone.
/// </summary>
[CollectionDefinition(SerialRandomness.Name, DisableParallelization = true)]
public sealed class SerialRandomness
{
    public const string Name = "torch random generator";
}
