using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Tuners.Lora;
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

    /// <summary>Options whose value is a path: relative paths in a file are relative to the file's folder.</summary>
    private static readonly string[] PathOptions =
    [
        nameof(TrainingOptions.Model), nameof(TrainingOptions.TrainData), nameof(TrainingOptions.ValidationData),
        nameof(TrainingOptions.FromAdapter), nameof(TrainingOptions.Output),
    ];

    /// <summary>The values a string option may take (the sets in TrainingOptions' doc comments), keyed by property name.</summary>
    public static IReadOnlyDictionary<string, IReadOnlyList<string>> AllowedValues { get; } = new Dictionary<string, IReadOnlyList<string>>
    {
        [nameof(TrainingOptions.Task)] = ["classification", "causal-lm", "instruction", "seq2seq"],
        [nameof(TrainingOptions.Method)] = ["lora", "ia3", "loha", "lokr", "vera", "full", "head"],
        [nameof(TrainingOptions.Optimizer)] = ["adamw", "sgd"],
        [nameof(TrainingOptions.Scheduler)] = ["constant", "linear", "cosine"],
        [nameof(TrainingOptions.Pooling)] = ["cls", "mean"],
        [nameof(TrainingOptions.MetricForBest)] = ["auto", "loss", "accuracy", "f1", "perplexity"],
    };

    /// <summary>Every key a config file may hold, in the order TrainingOptions declares them.</summary>
    public static IReadOnlyList<string> Keys { get; } = OptionField.All.Select(f => f.Key).ToList();

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
        var byFlag = OptionField.All.ToDictionary(f => f.Flag, StringComparer.Ordinal);
        var copy = baseOptions with { };
        foreach (var (rawName, text) in flags)
        {
            var name = rawName.TrimStart('-');
            if (!byFlag.TryGetValue(name, out var field))
            {
                var near = Closest(name.Replace('_', '-'), byFlag.Keys, '-');
                throw new PeftException(near != null ? $"unknown option --{name}; did you mean --{near}?" : $"unknown option --{name}");
            }
            field.SetOnCopy(copy, field.Convert(FlagValue(field, text ?? ""), $"option --{field.Flag}"));
        }
        return copy;
    }

    private static ConfigValue FlagValue(OptionField field, string text)
    {
        if (field.Nullable && (text.Length == 0 || text == "null")) return ConfigValue.Null();
        if (field.IsList)
            return ConfigValue.List(text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(s => ConfigValue.String(s)).ToList());
        if (field.Type == typeof(string)) return ConfigValue.String(text);
        if (field.Type == typeof(bool) && text.Length == 0) return ConfigValue.Plain("true");
        return ConfigValue.Plain(text);
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
        static string N(double x) => x.ToString("R", CultureInfo.InvariantCulture);

        Check(!string.IsNullOrWhiteSpace(o.Model), "model is required (a Hugging Face model folder)");
        Check(!string.IsNullOrWhiteSpace(o.TrainData), "train_data is required (a JSON lines, CSV or Parquet file)");
        foreach (var (property, allowed) in AllowedValues)
        {
            var field = OptionField.Of(property);
            var value = (string?)field.Get(o);
            Check(value == null || allowed.Contains(value), $"{field.Key} \"{value}\" is not one of {string.Join(", ", allowed)}");
        }
        try
        {
            LoraInit.Validate(o.InitLoraWeights, "init_lora_weights");
        }
        catch (PeftException e)
        {
            errors.Add(e.Message.Replace("init_lora_weights: init_lora_weights", "init_lora_weights", StringComparison.Ordinal));
        }
        Check(Regex.IsMatch(o.Device, @"^(cpu|cuda(:\d+)?)$", RegexOptions.CultureInvariant), $"device \"{o.Device}\" is not a device name (cpu, cuda or cuda:N)");

        Check(o.ValidationFraction is >= 0 and < 1, $"validation_fraction must be in [0, 1), got {N(o.ValidationFraction)}");
        Check(o.MaxLength >= 1, $"max_length must be at least 1, got {o.MaxLength}");
        Check(o.BlockSize >= 1, $"block_size must be at least 1, got {o.BlockSize}");
        Check(o.LoraR >= 1, $"lora_r must be at least 1, got {o.LoraR}");
        Check(o.LoraAlpha > 0, $"lora_alpha must be greater than 0, got {N(o.LoraAlpha)}");
        Check(o.LoraDropout is >= 0 and < 1, $"lora_dropout must be in [0, 1), got {N(o.LoraDropout)}");
        foreach (var (key, list) in new[] { ("target_modules", o.TargetModules), ("modules_to_save", o.ModulesToSave) })
            Check(list == null || list.All(s => !string.IsNullOrWhiteSpace(s)), $"{key} must not contain empty names");

        Check(o.LearningRate > 0, $"learning_rate must be greater than 0, got {N(o.LearningRate)}");
        Check(o.WeightDecay >= 0, $"weight_decay must be at least 0, got {N(o.WeightDecay)}");
        Check(o.Beta1 is >= 0 and < 1, $"beta1 must be in [0, 1), got {N(o.Beta1)}");
        Check(o.Beta2 is >= 0 and < 1, $"beta2 must be in [0, 1), got {N(o.Beta2)}");
        Check(o.Epsilon > 0, $"epsilon must be greater than 0, got {N(o.Epsilon)}");
        Check(o.Momentum is >= 0 and < 1, $"momentum must be in [0, 1), got {N(o.Momentum)}");
        Check(o.LoraPlusRatio is null or > 0, $"lora_plus_ratio must be greater than 0 (or null for off), got {N(o.LoraPlusRatio ?? 0)}");
        Check(o.WarmupRatio is >= 0 and < 1, $"warmup_ratio must be in [0, 1), got {N(o.WarmupRatio)}");
        Check(o.WarmupSteps >= 0, $"warmup_steps must be at least 0, got {o.WarmupSteps}");
        Check(o.MaxSteps is null or >= 1, $"max_steps must be at least 1 (or null to train for epochs), got {o.MaxSteps}");
        Check(o.MaxSteps != null || o.Epochs >= 1, $"epochs must be at least 1 unless max_steps is set, got {o.Epochs}");
        Check(o.BatchSize >= 1, $"batch_size must be at least 1, got {o.BatchSize}");
        Check(o.GradientAccumulation >= 1, $"gradient_accumulation must be at least 1, got {o.GradientAccumulation}");
        Check(o.MaxGradNorm >= 0, $"max_grad_norm must be at least 0 (0 = no clipping), got {N(o.MaxGradNorm)}");

        Check(o.EvalEvery >= 0, $"eval_every must be at least 0 (0 = every epoch), got {o.EvalEvery}");
        Check(o.LogEvery >= 1, $"log_every must be at least 1, got {o.LogEvery}");
        Check(o.EarlyStoppingPatience >= 0, $"early_stopping_patience must be at least 0 (0 = never stop early), got {o.EarlyStoppingPatience}");
        Check(o.EarlyStoppingThreshold >= 0, $"early_stopping_threshold must be at least 0, got {N(o.EarlyStoppingThreshold)}");
        Check(o.SaveEvery >= 0, $"save_every must be at least 0 (0 = at every evaluation), got {o.SaveEvery}");
        Check(o.KeepLast >= 0, $"keep_last must be at least 0, got {o.KeepLast}");
        Check(o.Threads >= 0, $"threads must be at least 0 (0 = all cores), got {o.Threads}");

        Check(o.Method != "full" || o.FromAdapter == null, "from_adapter continues an adapter, which method \"full\" does not train");
        Check(!o.Resume || !string.IsNullOrWhiteSpace(o.Output), "resume needs output (the run folder to continue)");

        if (errors.Count > 0) throw new PeftException($"invalid training options: {string.Join("; ", errors)}");
        return o;
    }

    /// <summary>Every option, snake_case, in declaration order; reads back to equal options with <see cref="ParseYaml"/>.</summary>
    public static string ToYaml(TrainingOptions options)
    {
        var text = new StringWriter(CultureInfo.InvariantCulture) { NewLine = "\n" };
        text.WriteLine("# The training options of this run: defaults, config file and command-line flags, resolved.");
        text.WriteLine("# A training config itself: reading it back gives the same options.");
        var emitter = new Emitter(text, 2, int.MaxValue);
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart());
        emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, MappingStyle.Block));
        foreach (var field in OptionField.All)
        {
            emitter.Emit(new Scalar(field.Key));
            var value = field.Get(options);
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
        var copy = baseOptions with { };
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (key, value) in entries)
        {
            var at = value.Line is { } line ? $"{source}, line {line}" : source;
            if (!OptionField.ByKey.TryGetValue(key, out var field))
            {
                var near = Closest(key, OptionField.ByKey.Keys, '_');
                throw new PeftException(near != null
                    ? $"{at}: unknown key \"{key}\"; did you mean \"{near}\"?"
                    : $"{at}: unknown key \"{key}\" (valid keys: {string.Join(", ", Keys)})");
            }
            if (!seen.Add(key)) throw new PeftException($"{at}: \"{key}\" is given twice");
            field.SetOnCopy(copy, field.Convert(value, $"{at}: \"{key}\""));
        }
        return copy;
    }

    private static TrainingOptions Resolve(TrainingOptions options, string? baseDirectory)
    {
        if (baseDirectory == null) return options;
        var copy = options with { };
        foreach (var name in PathOptions)
        {
            var field = OptionField.Of(name);
            if (field.Get(copy) is string { Length: > 0 } path && !Path.IsPathRooted(path))
                field.SetOnCopy(copy, Path.GetFullPath(Path.Combine(baseDirectory, path)));
        }
        return copy;
    }

    /// <summary>
    /// The valid name nearest to a mistyped one, or null when none is near enough to be a plausible typo. camelCase,
    /// PascalCase and the other separator (kebab in a file, snake on the command line) count as exact matches.
    /// </summary>
    internal static string? Closest(string wanted, IEnumerable<string> valid, char separator)
    {
        var normalized = new StringBuilder();
        foreach (var c in OptionField.SnakeCase(wanted.Trim()))
            normalized.Append(c is '_' or '-' or ' ' ? separator : char.ToLowerInvariant(c));
        var target = normalized.ToString();
        var best = valid.Select(k => (Key: k, Distance: NearKeys.Distance(target, k)))
            .OrderBy(x => x.Distance).ThenBy(x => x.Key, StringComparer.Ordinal).FirstOrDefault();
        return best.Key != null && best.Distance <= Math.Max(2, target.Length / 3) ? best.Key : null;
    }
}
