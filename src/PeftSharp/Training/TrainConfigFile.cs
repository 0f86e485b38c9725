using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Options;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.RepresentationModel;

namespace PeftSharp.Training;

/// <summary>
/// A training config file (YAML or JSON, snake_case keys) and command-line overrides (--kebab-case flags) turned into
/// <see cref="TrainingOptions"/>, checked, and written back as the run's config.yaml. A run is only reproducible if
/// what produced it is written down, and a typo in a config must stop the run with the key named rather than
/// silently train with a default, so unknown keys and wrong types are errors that name file, line and key.
/// </summary>
public static class TrainConfigFile
{
    /// <summary>The resolved options as written into the run folder.</summary>
    public const string RunFileName = "config.yaml";
    /// <summary>A config is a screenful of keys; refusing anything larger bounds memory on a wrong file.</summary>
    public const long MaxFileBytes = 1024 * 1024;

    /// <summary>Every key a config file may hold (aliases aside): the core options in declaration order, then the methods'.</summary>
    public static IReadOnlyList<string> Keys { get; } = TrainingSchema.All.Select(f => f.Key).ToList();

    /// <summary>Reads a .yaml/.yml or .json file; relative paths in it are resolved against the file's folder.</summary>
    public static TrainingOptions Load(string path)
    {
        if (!File.Exists(path)) throw new PeftException($"{path}: config file not found");
        var length = new FileInfo(path).Length;
        if (length > MaxFileBytes) throw new PeftException($"{path}: {length} bytes is too large for a training config");
        var text = File.ReadAllText(path);
        var folder = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".yaml" or ".yml" => ParseYaml(text, path, folder),
            ".json" => ParseJson(text, path, folder),
            var ext => throw new PeftException($"{path}: a training config must be .yaml, .yml or .json, not \"{ext}\""),
        };
    }

    /// <summary>Parses YAML text; <paramref name="baseDirectory"/> (when given) anchors relative paths.</summary>
    public static TrainingOptions ParseYaml(string text, string source, string? baseDirectory = null)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(text));
        }
        catch (YamlException e)
        {
            throw new PeftException($"{source}, line {e.Start.Line}: invalid YAML ({e.Message})", e);
        }
        if (stream.Documents.Count == 0) return Resolve(new TrainingOptions(), baseDirectory);
        if (stream.Documents.Count > 1) throw new PeftException($"{source}: expected one YAML document, found {stream.Documents.Count}");
        var root = stream.Documents[0].RootNode;
        if (root is YamlScalarNode { Value: null or "" or "~" or "null" }) return Resolve(new TrainingOptions(), baseDirectory);
        if (root is not YamlMappingNode mapping) throw new PeftException($"{source}: expected a mapping of option: value at the top level");

        var entries = new List<(string Key, ConfigValue Value)>();
        foreach (var (keyNode, valueNode) in mapping.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
                throw new PeftException($"{source}, line {keyNode.Start.Line}: keys must be plain names");
            entries.Add((key, ConfigValue.FromYaml(valueNode)));
        }
        return Resolve(Apply(new TrainingOptions(), entries, source), baseDirectory);
    }

    /// <summary>Parses JSON text (comments and trailing commas allowed); <paramref name="baseDirectory"/> anchors relative paths.</summary>
    public static TrainingOptions ParseJson(string text, string source, string? baseDirectory = null)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 16, CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new PeftException($"{source}: invalid JSON ({e.Message})", e);
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new PeftException($"{source}: expected a JSON object of \"option\": value at the top level");
            var entries = new List<(string Key, ConfigValue Value)>();
            foreach (var property in document.RootElement.EnumerateObject())
                entries.Add((property.Name, ConfigValue.FromJson(property.Value)));
            return Resolve(Apply(new TrainingOptions(), entries, source), baseDirectory);
        }
    }

    /// <summary>
    /// Command-line flags on top of options from a file or defaults. Names are the kebab-case forms
    /// (learning-rate; a leading "--" is allowed), values are text: numbers in invariant culture, true/false
    /// (an empty value means true: a switch given alone), lists comma-separated, "" or null for "unset" on nullable options.
    /// Paths are left as given: on the command line they are relative to the current folder.
    /// </summary>
    public static TrainingOptions ApplyOverrides(TrainingOptions baseOptions, IReadOnlyDictionary<string, string> flags)
    {
        var byFlag = TrainingSchema.ByKey.ToDictionary(kv => kv.Key.Replace('_', '-'), kv => kv.Value, StringComparer.Ordinal);
        var options = baseOptions;
        foreach (var (rawName, text) in flags)
        {
            var name = rawName.TrimStart('-');
            if (!byFlag.TryGetValue(name, out var field))
            {
                var near = Closest(name.Replace('_', '-'), byFlag.Keys, '-');
                throw new PeftException(near != null ? $"unknown option --{name}; did you mean --{near}?" : $"unknown option --{name}");
            }
            options = TrainingSchema.Set(options, field, field.Convert(OptionConversion.FromFlag(field, text ?? ""), $"option --{name}"));
        }
        return options;
    }

    /// <summary>
    /// Checks values and ranges, and reports every problem at once (one line, "; "-separated) so that a user fixes
    /// a config in one go. Throws <see cref="PeftException"/>; returns the options unchanged for chaining.
    /// </summary>
    public static TrainingOptions Validate(TrainingOptions o)
    {
        var errors = new List<string>();
        void Check(bool ok, string message)
        {
            if (!ok) errors.Add(message);
        }

        Check(!string.IsNullOrWhiteSpace(o.Model), "model is required (a Hugging Face model folder)");
        Check(!string.IsNullOrWhiteSpace(o.TrainData), "train_data is required (a JSON lines, CSV or Parquet file)");
        foreach (var spec in TrainingSchema.Relevant(o))
        {
            if (spec.Method is { } method && !spec.AppliesTo(o.Method))
            {
                errors.Add($"{spec.Key} is an option of method {method}, but method is {o.Method}");
                continue;
            }
            errors.AddRange(spec.Problems(TrainingSchema.Get(o, spec)));
        }
        Check(Regex.IsMatch(o.Device, @"^(cpu|cuda(:\d+)?)$", RegexOptions.CultureInvariant), $"device \"{o.Device}\" is not a device name (cpu, cuda or cuda:N)");
        Check(o.MaxSteps != null || o.Epochs >= 1, $"epochs must be at least 1 unless max_steps is set, got {o.Epochs}");
        Check(o.Method != TrainingMethods.Full || o.FromAdapter == null,
            "from_adapter continues an adapter, which method \"full\" does not train");
        Check(!o.Resume || !string.IsNullOrWhiteSpace(o.Output), "resume needs output (the run folder to continue)");
        bool auto = Analysis.AutoTargets.IsAuto(o.TargetModules);
        Check(!auto || !string.IsNullOrWhiteSpace(o.TrainableBudget),
            "target_modules auto needs trainable_budget: the adapter parameters to spend, a count (73728) or a percentage of the model's (0.3%)");
        Check(auto || o.TrainableBudget == null, "trainable_budget is for target_modules auto");
        Check(auto || LayerGroups.IsAuto(o.LayerGroups) || o.Analysis == null, "analysis is for target_modules auto and layer_groups auto");
        if (auto && !string.IsNullOrWhiteSpace(o.TrainableBudget))
        {
            try
            {
                Analysis.AutoTargets.ParseBudget(o.TrainableBudget, long.MaxValue / 200);
            }
            catch (PeftException e)
            {
                errors.Add(e.Message);
            }
        }
        Check(!auto || Tuners.TunerRegistry.Named(o.Method)?.AdapterParameters(TrainingMethods.Settings(o, null), 1, 1, 1) is not null,
            $"target_modules auto spends the budget as per-module ranks, which method {o.Method} has not (use lora or loha)");
        Check(!auto || o.FromAdapter == null, "target_modules auto chooses the targets of a new adapter; from_adapter continues one whose targets are set");
        errors.AddRange(LayerGroups.Problems(o));
        Check(o.Quantize == "none" || o.Method != TrainingMethods.Full,
            $"method full trains every weight, and quantize {o.Quantize} freezes the linear layers in 4 bits; train an adapter (lora) on the 4-bit base");
        try
        {
            Models.Quantization.QuantizationConfig.From(o.Quantize, o.DoubleQuant, o.ComputeDtype);
        }
        catch (PeftException e)
        {
            errors.Add(e.Message);
        }

        if (errors.Count > 0) throw new PeftException($"invalid training options: {string.Join("; ", errors)}");
        return o;
    }

    /// <summary>
    /// Every option of the run, snake_case, in declaration order: the core ones, then the chosen method's with their
    /// effective values (so a later change of a default cannot change what the file means), then any other given.
    /// Reads back to the same options with <see cref="ParseYaml"/>.
    /// </summary>
    public static string ToYaml(TrainingOptions options)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        text.WriteLine("# The training options of this run: defaults, config file and command-line flags, resolved.");
        text.WriteLine("# A training config itself: reading it back gives the same options.");
        var emitter = new Emitter(text, 2, int.MaxValue);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, MappingStyle.Block));
        foreach (var field in TrainingSchema.Relevant(options))
        {
            emitter.Emit(new Scalar(field.Key));
            var value = TrainingSchema.Get(options, field);
            switch (value)
            {
                case null:
                    emitter.Emit(new Scalar("null"));
                    break;
                case IReadOnlyList<string> list:
                    emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, SequenceStyle.Flow));
                    foreach (var item in list) emitter.Emit(Quoted(item));
                    emitter.Emit(new SequenceEnd());
                    break;
                case string s:
                    emitter.Emit(Quoted(s));
                    break;
                case bool b:
                    emitter.Emit(new Scalar(b ? "true" : "false"));
                    break;
                case double d:
                    emitter.Emit(new Scalar(d.ToString("R", CultureInfo.InvariantCulture)));
                    break;
                default:
                    emitter.Emit(new Scalar(Convert.ToString(value, CultureInfo.InvariantCulture)!));
                    break;
            }
        }
        emitter.Emit(new MappingEnd());
        emitter.Emit(new DocumentEnd(true));
        emitter.Emit(new StreamEnd());
        return text.ToString();
    }

    /// <summary>Writes <see cref="ToYaml"/> to config.yaml in the run folder, atomically.</summary>
    public static string WriteRunConfig(string runDir, TrainingOptions options)
    {
        Directory.CreateDirectory(runDir);
        var path = Path.Combine(runDir, RunFileName);
        AtomicFile.WriteAllText(path, ToYaml(options));
        return path;
    }

    private static Scalar Quoted(string s) => new(AnchorName.Empty, TagName.Empty, s, ScalarStyle.DoubleQuoted, false, true);

    private static TrainingOptions Apply(TrainingOptions baseOptions, List<(string Key, ConfigValue Value)> entries, string source)
    {
        var options = baseOptions;
        var seen = new Dictionary<OptionSpec, string>();
        foreach (var (key, value) in entries)
        {
            var at = value.Line is { } line ? $"{source}, line {line}" : source;
            if (!TrainingSchema.ByKey.TryGetValue(key, out var field))
            {
                var near = Closest(key, TrainingSchema.ByKey.Keys, '_');
                throw new PeftException(near != null
                    ? $"{at}: unknown key \"{key}\"; did you mean \"{near}\"?"
                    : $"{at}: unknown key \"{key}\" (valid keys: {string.Join(", ", Keys)})");
            }
            if (seen.TryGetValue(field, out var first))
                throw new PeftException(first == key ? $"{at}: \"{key}\" is given twice" : $"{at}: \"{key}\" and \"{first}\" are the same option, given twice");
            seen[field] = key;
            options = TrainingSchema.Set(options, field, field.Convert(value, $"{at}: \"{key}\""));
        }
        return options;
    }

    private static TrainingOptions Resolve(TrainingOptions options, string? baseDirectory)
    {
        if (baseDirectory == null) return options;
        foreach (var field in TrainingSchema.All.Where(f => f.IsPath))
        {
            if (TrainingSchema.Get(options, field) is string { Length: > 0 } path && !Path.IsPathRooted(path))
                options = TrainingSchema.Set(options, field, Path.GetFullPath(Path.Combine(baseDirectory, path)));
            else if (TrainingSchema.Get(options, field) is IReadOnlyList<string> paths)
                options = TrainingSchema.Set(options, field, paths.Select(q => q.Length > 0 && !Path.IsPathRooted(q) ? Path.GetFullPath(Path.Combine(baseDirectory, q)) : q).ToList());
        }
        return options;
    }

    /// <summary>
    /// The valid name nearest to a mistyped one, or null when none is near enough to be a plausible typo. camelCase,
    /// PascalCase and the other separator (kebab in a file, snake on the command line) count as exact matches.
    /// </summary>
    internal static string? Closest(string wanted, IEnumerable<string> valid, char separator)
    {
        var normalized = new StringBuilder();
        foreach (var c in PropertyOption.SnakeCase(wanted.Trim()))
            normalized.Append(c is '_' or '-' or ' ' ? separator : char.ToLowerInvariant(c));
        var target = normalized.ToString();
        var best = valid.Select(k => (Key: k, Distance: EditDistance.Levenshtein(target, k)))
            .OrderBy(x => x.Distance).ThenBy(x => x.Key, StringComparer.Ordinal).FirstOrDefault();
        return best.Key != null && best.Distance <= Math.Max(2, target.Length / 3) ? best.Key : null;
    }
}
