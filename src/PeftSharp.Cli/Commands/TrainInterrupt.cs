namespace PeftSharp.Cli.Commands;

/// <summary>
/// Ctrl-C during <c>peft train</c>. The first asks the trainer to stop cleanly: it finishes the step (or evaluation
/// batch) under way, writes a checkpoint and says how to resume, and the command exits 130. The second aborts at once,
/// exit 130 too: the checkpoints already on disk are whole (every write is atomic), only the steps since the newest are lost.
/// </summary>
public sealed class TrainInterrupt : IDisposable
{
    public const int ExitCode = 130; // 128 + SIGINT, what shells report for a process stopped by Ctrl-C

    private readonly CancellationTokenSource _cancel = new();
    private int _presses;

    public TrainInterrupt() => Console.CancelKeyPress += OnCancelKeyPress;

    public CancellationToken Token => _cancel.Token;

    public bool Requested => _cancel.IsCancellationRequested;

    /// <summary>
    /// Where the acknowledgement is printed: the progress display's console while it runs, so that its next redraw
    /// does not overwrite the line; stderr otherwise.
    /// </summary>
    public Action<string> Say { get; set; } = message => Console.Error.WriteLine(message);

    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (Interlocked.Increment(ref _presses) == 1)
        {
            e.Cancel = true; // the process goes on: the trainer stops at its next safe point
            _cancel.Cancel();
            Say("stopping after this step: a checkpoint will be written (Ctrl-C again to abort at once)");
            return;
        }
        if (!Console.IsOutputRedirected) Console.Out.Write("\u001b[?25h"); // the progress display hides the cursor
        Console.Error.WriteLine("peft: aborted; the checkpoints already written are intact: resume with --resume");
        // Not cancelled: the runtime re-raises SIGINT with its default action, ending the process at once (status 130).
        // Environment.Exit would run the runtime's shutdown while libtorch threads are mid-step, which can crash.
        e.Cancel = false;
    }

    public void Dispose()
    {
        Console.CancelKeyPress -= OnCancelKeyPress;
        _cancel.Dispose();
    }
}
