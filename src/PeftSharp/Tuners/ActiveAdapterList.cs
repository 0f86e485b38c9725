using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners;

/// <summary>
/// <see cref="PeftModel.ActiveAdaptersFile"/>: <c>{"active_adapters": ["default", "biases"]}</c>, the saved adapters that
/// run together, the folder's own first and each other one in the subfolder of its name (as <see cref="PeftModel.Save"/>
/// puts them). The file is untrusted: the names must be plain folder names, so it cannot point outside the folder.
/// </summary>
internal static class ActiveAdapterList
{
    private const string Key = "active_adapters";

    public static void Write(string path, IReadOnlyList<string> adapters) =>
        AtomicFile.WriteJson(path, new JsonObject { [Key] = new JsonArray(adapters.Select(a => (JsonNode?)a).ToArray()) });

    public static IReadOnlyList<string> Read(string path)
    {
        var json = JsonConfig.Load(path);
        var names = json.GetStringList(Key) ?? throw new PeftException($"{path}: \"{Key}\" is missing");
        if (names.Count == 0 || names[0] != PeftModel.DefaultAdapter)
            throw new PeftException($"{path}: \"{Key}\" must start with \"{PeftModel.DefaultAdapter}\" (the folder's own adapter)");
        foreach (var name in names.Skip(1))
            if (name.Length == 0 || name is "." or ".." || name == PeftModel.DefaultAdapter || name.IndexOfAny(['/', '\\', ':']) >= 0 || name.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
                throw new PeftException($"{path}: \"{Key}\" names \"{name}\", which is not the name of a subfolder adapter");
        if (names.Distinct(StringComparer.Ordinal).Count() != names.Count)
            throw new PeftException($"{path}: \"{Key}\" names an adapter twice");
        return names;
    }
}
