using PeftSharp.IO;
using PeftSharp.Tests.IO;

/// <summary>
/// The child half of <see cref="AtomicFolderKillTests"/>: .NET runs <c>Initialize</c> before Main in a process
/// started with DOTNET_STARTUP_HOOKS naming this assembly (the runtime requires this exact type name, in no
/// namespace). With the test's variables set, it replaces the folder and stops just before the named step until
/// it is killed; without them (any other process) it does nothing.
/// </summary>
internal static class StartupHook
{
    public const string StepVariable = "PEFTSHARP_TEST_KILL_BEFORE", TargetVariable = "PEFTSHARP_TEST_KILL_TARGET", Stopped = "stopped before ";

    public static void Initialize()
    {
        if (Environment.GetEnvironmentVariable(StepVariable) is not { } step || Environment.GetEnvironmentVariable(TargetVariable) is not { } target) return;
        AtomicFolder.StepHook = at =>
        {
            if (at != step) return;
            Console.Out.WriteLine(Stopped + at);
            Console.Out.Flush();
            Thread.Sleep(Timeout.Infinite);
        };
        AtomicFolder.Write(target, dir => FolderVersions.Fill(dir, "new"), overwrite: true);
        Console.Out.WriteLine("finished without stopping");
        Environment.Exit(1);
    }
}
