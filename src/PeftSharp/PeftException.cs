namespace PeftSharp;

/// <summary>
/// A problem with what the user gave us (a file, a folder, a config, an option), as opposed to a bug.
/// Messages are written for the user: they name the file, key or module concerned.
/// </summary>
public class PeftException : Exception
{
    public PeftException(string message) : base(message) { }
    public PeftException(string message, Exception inner) : base(message, inner) { }
}
