using System.Text.RegularExpressions;
using PeftSharp.Models;
using PeftSharp.Tuners;

namespace PeftSharp.Cli.Commands;

/// <summary>One --adapter argument: a folder, or NAME=FOLDER to give the adapter a name (for --row-adapters, --weights).</summary>
public sealed partial record AdapterArgument(string? Name, string Folder)
{
    [GeneratedRegex(@"^[A-Za-z0-9_.\-]+$")]
    private static partial Regex NamePattern();

    /// <summary>
    /// NAME=FOLDER when the text before the first '=' is a plain name (letters, digits, _ . -) and the whole argument is not
    /// itself an existing folder (a folder may have '=' in its name); otherwise the argument is the folder.
    /// </summary>
    public static AdapterArgument Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || Directory.Exists(text) || !NamePattern().IsMatch(text[..eq])) return new(null, text);
        string name = text[..eq], folder = text[(eq + 1)..];
        if (folder.Length == 0) throw new PeftException($"--adapter {text}: give the folder after '=' (NAME=FOLDER)");
        if (name == AdapterLayer.BaseRow) throw new PeftException($"--adapter {text}: \"{AdapterLayer.BaseRow}\" names the base model in --row-adapters; choose another name");
        return new(name, folder);
    }

    /// <summary>
    /// The arguments with their adapter names: a given NAME, else today's positional names (the first "default", then
    /// "adapter1", "adapter2", ...); a name given twice is refused.
    /// </summary>
    public static IReadOnlyList<(string Name, string Folder)> Named(IReadOnlyList<string> arguments)
    {
        var parsed = arguments.Select(Parse).ToList();
        var result = parsed.Select((a, i) => (Name: a.Name ?? (i == 0 ? PeftModel.DefaultAdapter : $"adapter{i}"), a.Folder)).ToList();
        var twice = result.GroupBy(r => r.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (twice != null)
            throw new PeftException($"two --adapter arguments are named \"{twice.Key}\" ({string.Join(", ", twice.Select(t => t.Folder))}): give each its own NAME=FOLDER");
        return result;
    }
}

/// <summary>--adapter folders onto a model, shared by the commands that take them; warnings go to stderr.</summary>
public static class AdapterLoading
{
    /// <summary>Loads each argument (<see cref="AdapterArgument"/>) as an adapter, all active; null when there are none.</summary>
    public static PeftModel? Load(PretrainedModel model, IReadOnlyList<string> arguments, bool merge)
    {
        if (arguments.Count == 0)
        {
            if (merge) throw new PeftException("--merge needs at least one --adapter");
            return null;
        }
        var adapters = AdapterArgument.Named(arguments);
        var peft = PeftModel.Load(model, adapters[0].Folder, adapters[0].Name);
        foreach (var (name, folder) in adapters.Skip(1)) peft.LoadAdapter(folder, name);
        // Every adapter loaded: those named and those a folder's active-adapter list brings along (layer groups' biases).
        peft.SetActiveAdapters([.. peft.Configs.Keys]);
        foreach (var w in peft.Warnings) BaseModelLoading.Warn(w);
        if (merge) peft.MergeAdapter([.. peft.Configs.Keys]);
        return peft;
    }

    /// <summary>The folder of the first --adapter argument (for the task it records), or null.</summary>
    public static string? FirstFolder(IReadOnlyList<string> arguments) => arguments.Count == 0 ? null : AdapterArgument.Parse(arguments[0]).Folder;
}
