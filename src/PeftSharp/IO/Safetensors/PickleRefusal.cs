namespace PeftSharp.IO.Safetensors;

/// <summary>
/// PyTorch's .bin/.pt/.pth/.ckpt checkpoints are Python pickles: loading one runs whatever code its author
/// put in it. PeftSharp never loads them; these helpers recognise them and say how to convert them once.
/// </summary>
internal static class PickleRefusal
{
    private static readonly string[] Extensions = [".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"];

    public static bool HasPickleExtension(string path) =>
        Extensions.Any(e => path.EndsWith(e, StringComparison.OrdinalIgnoreCase));

    /// <summary>A torch.save zip archive ("PK\x03\x04") or a bare pickle (protocol 2-5 opcode).</summary>
    public static bool LooksLikePickle(ReadOnlySpan<byte> start) =>
        (start.Length >= 4 && start[0] == (byte)'P' && start[1] == (byte)'K' && start[2] == 3 && start[3] == 4) ||
        (start.Length >= 2 && start[0] == 0x80 && start[1] is >= 2 and <= 5);

    /// <summary>Why we refuse and the one-off Python conversion, with the user's file name filled in.</summary>
    public static string Advice(string fileName) =>
        "Pickle files can run arbitrary code when loaded, so PeftSharp never loads them. Convert the weights to " +
        "safetensors once, in Python: `import torch; from safetensors.torch import save_file; " +
        $"save_file(torch.load(\"{PythonEscape(fileName)}\", weights_only=True), \"model.safetensors\")`, or for a " +
        "transformers model (which also handles tied weights) `model.save_pretrained(dir, safe_serialization=True)`.";

    public static string FileMessage(string path) =>
        $"{path} is a PyTorch pickle checkpoint, not a safetensors file. {Advice(Path.GetFileName(path))}";

    public static string FolderMessage(string folder, IReadOnlyList<string> pickleFiles) =>
        $"{folder} has only PyTorch pickle weights ({string.Join(", ", pickleFiles)}). {Advice(pickleFiles.FirstOrDefault(HasPickleExtension) ?? pickleFiles[0])}";

    private static string PythonEscape(string s) => s.Replace("\\", "\\\\").Replace("\"", "\\\"");
}
