using System.Reflection;
using System.Text;
using System.Text.RegularExpressions;
using PeftSharp.IO;
using YamlDotNet.RepresentationModel;

namespace PeftSharp.Tuners;

/// <summary>
/// The README.md PEFT writes beside an adapter (its <c>create_or_update_model_card</c>): YAML front matter with
/// <c>library_name: peft</c>, <c>base_model</c>, tags (<c>base_model:adapter:&lt;id&gt;</c>, the method) and the
/// pipeline tag, which is what makes the Hugging Face Hub list a pushed folder as an adapter of its base model and
/// offer it for inference. Unlike PEFT we write <c>base_model</c> only when it is a Hub id: a local folder there is
/// not a model the Hub knows (PEFT writes it anyway); the text then says how to set it. An existing README.md keeps
/// its text and every front-matter key we do not own, as PEFT keeps a card the user edited.
/// </summary>
public static class AdapterModelCard
{
    public const string FileName = "README.md";

    /// <summary>owner/name, the shape of a Hub repository id (not a path: no leading dot or slash, one slash).</summary>
    private static readonly Regex HubId = new(@"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$", RegexOptions.CultureInvariant);

    /// <summary>True when a base_model_name_or_path names a Hub repository rather than a folder on this machine.</summary>
    public static bool IsHubId(string? name) =>
        name is not null && HubId.IsMatch(name) && !name.Contains("..", StringComparison.Ordinal) && !Directory.Exists(name);

    /// <summary>Creates or updates dir/README.md for the adapters saved there (the first is the one at the root).</summary>
    public static void Write(string dir, IReadOnlyList<(string Name, PeftConfig Config)> adapters)
    {
        var path = Path.Combine(dir, FileName);
        var (front, body) = File.Exists(path) ? Split(File.ReadAllText(path)) : (new YamlMappingNode(), null);
        var root = adapters[0].Config;
        var baseModel = root.BaseModelNameOrPath;
        bool hub = IsHubId(baseModel);

        // The Hub offers a library_name: peft folder to Python PEFT, which cannot load a method of PeftSharp's own.
        bool peftReads = adapters.All(a => TunerRegistry.For(a.Config.PeftType).Description.ReadByPythonPeft);
        Set(front, "library_name", peftReads ? "peft" : "peftsharp");
        if (hub) Set(front, "base_model", baseModel!);
        if (Pipeline(root.TaskType) is { } pipeline && !front.Children.ContainsKey(new YamlScalarNode("pipeline_tag"))) Set(front, "pipeline_tag", pipeline);
        var tags = new SortedSet<string>(StringComparer.Ordinal) { "peftsharp", "transformers" };
        if (front.Children.TryGetValue(new YamlScalarNode("tags"), out var old) && old is YamlSequenceNode seq)
            foreach (var t in seq.Children.OfType<YamlScalarNode>()) if (t.Value is { } v) tags.Add(v);
        foreach (var (_, c) in adapters) tags.Add(c.PeftType.ToLowerInvariant());
        if (hub) tags.Add("base_model:adapter:" + baseModel);
        front.Children[new YamlScalarNode("tags")] = new YamlSequenceNode(tags.Select(t => new YamlScalarNode(t)));

        var text = new StringBuilder("---\n").Append(Yaml(front)).Append("---\n\n").Append(body ?? Body(adapters, baseModel, hub, peftReads));
        AtomicFile.WriteAllText(path, text.ToString());
    }

    private static string Body(IReadOnlyList<(string Name, PeftConfig Config)> adapters, string? baseModel, bool hub, bool peftReads)
    {
        var (_, root) = adapters[0];
        var title = TunerRegistry.For(root.PeftType).Description.Title;
        var b = new StringBuilder();
        b.Append($"# {title} adapter{(baseModel is null ? "" : $" for {baseModel}")}\n\n");
        if (peftReads)
            b.Append($"A parameter-efficient adapter made with PeftSharp (fine-tuning for .NET), saved in Hugging Face PEFT's own format: ")
             .Append($"`{PeftModel.ConfigFile}` and `{PeftModel.WeightsFile}`, loaded as is by Python PEFT.\n\n");
        else
            b.Append($"A parameter-efficient adapter made with PeftSharp (fine-tuning for .NET), saved as `{PeftModel.ConfigFile}` and `{PeftModel.WeightsFile}` ")
             .Append("in a format of PeftSharp's own: Python PEFT has no such method and cannot load it; PeftSharp can.\n\n");
        foreach (var (name, config) in adapters)
        {
            var where = name == PeftModel.DefaultAdapter ? "this folder" : $"subfolder `{name}`";
            var d = TunerRegistry.For(config.PeftType).Description;
            b.Append($"- `{name}` ({where}): {d.Title}, {d.Summary}")
             .Append(config.TaskType is null ? "" : $"; task {config.TaskType}").Append('\n');
        }
        if (!hub)
            b.Append($"\nThe base model was given as {(baseModel is null ? "an in-memory model" : $"the folder `{baseModel}`")}: before sharing, set ")
             .Append("`base_model_name_or_path` in `adapter_config.json` (or train with `--base-model-name-or-path <org/name>`) to its Hub id, ")
             .Append("so that the Hub links the adapter to its base model.\n");
        if (!peftReads)
        {
            b.Append("\n## How to use\n\nWith PeftSharp: `peft generate --model <base folder> --adapter <this folder> --prompt ...` (or `peft eval`, `peft forward`).\n");
            b.Append($"\n### Framework versions\n\n- PeftSharp {Version()}\n");
            return b.ToString();
        }
        var id = baseModel ?? "<base model>";
        b.Append("\n## How to use\n\n```python\nfrom transformers import AutoModel  # or the task's Auto class\nfrom peft import PeftModel\n\n")
         .Append($"base = AutoModel.from_pretrained(\"{id}\")\nmodel = PeftModel.from_pretrained(base, \"<this folder or repo>\")\n");
        foreach (var (name, _) in adapters.Skip(1))
            b.Append($"model.load_adapter(\"<this folder or repo>\", adapter_name=\"{name}\", subfolder=\"{name}\")\n");
        b.Append("```\n\nWith PeftSharp: `peft generate --model <base folder> --adapter <this folder> --prompt ...` (or `peft eval`, `peft forward`).\n");
        b.Append("\n### Framework versions\n\n")
         .Append($"- PEFT {PeftConfig.PeftVersion} (file format)\n")
         .Append($"- PeftSharp {Version()}\n");
        return b.ToString();
    }

    private static string Version() =>
        typeof(AdapterModelCard).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "?";

    /// <summary>The Hub's pipeline tag for a PEFT task type (PEFT itself only sets text-generation).</summary>
    private static string? Pipeline(string? taskType) => taskType switch
    {
        "CAUSAL_LM" => "text-generation",
        "SEQ_CLS" => "text-classification",
        "SEQ_2_SEQ_LM" => "text2text-generation",
        "TOKEN_CLS" => "token-classification",
        "QUESTION_ANS" => "question-answering",
        "FEATURE_EXTRACTION" => "feature-extraction",
        _ => null,
    };

    private static void Set(YamlMappingNode map, string key, string value) => map.Children[new YamlScalarNode(key)] = new YamlScalarNode(value);

    /// <summary>An existing card's front matter (a mapping, or empty) and its text after it.</summary>
    private static (YamlMappingNode Front, string Body) Split(string text)
    {
        var m = Regex.Match(text, @"\A---\r?\n(.*?)\r?\n---\r?\n?", RegexOptions.Singleline);
        if (!m.Success) return (new YamlMappingNode(), text);
        try
        {
            var yaml = new YamlStream();
            yaml.Load(new StringReader(m.Groups[1].Value));
            if (yaml.Documents.Count > 0 && yaml.Documents[0].RootNode is YamlMappingNode map) return (map, text[m.Length..].TrimStart('\n'));
        }
        catch (YamlDotNet.Core.YamlException) { } // a broken header is replaced, the text kept
        return (new YamlMappingNode(), text[m.Length..].TrimStart('\n'));
    }

    private static string Yaml(YamlMappingNode node)
    {
        using var w = new StringWriter();
        new YamlStream(new YamlDocument(node)).Save(w, assignAnchors: false);
        var s = w.ToString().Replace("\r\n", "\n");
        // YamlStream writes a document end marker ("...") after the mapping; the front matter closes with "---" instead.
        s = Regex.Replace(s, @"\n\.\.\.\n?\z", "\n");
        return s.EndsWith('\n') ? s : s + "\n";
    }
}
