using PeftSharp.Options;

namespace PeftSharp.Tuners;

/// <summary>Which of the options every adapter method may share a method actually reads.</summary>
[Flags]
public enum SharedInputs
{
    None = 0,
    /// <summary>rank (lora_r): the rank of its low-rank factors.</summary>
    Rank = 1,
    /// <summary>alpha (lora_alpha): the scale of its update.</summary>
    Alpha = 2,
    /// <summary>dropout (lora_dropout): dropout on its input.</summary>
    Dropout = 4,
    /// <summary>target_modules: the layers it wraps.</summary>
    Targets = 8,
}

/// <summary>
/// What a method says about itself, once, in its own folder: the registry, training, config validation,
/// <c>peft train --method</c>, <c>peft methods</c>, the run report and <c>peft inspect</c> all read this, so none of
/// them lists methods by hand.
/// </summary>
public sealed record MethodDescription
{
    /// <summary>peft_type as written in adapter_config.json ("LORA").</summary>
    public required string PeftType { get; init; }
    /// <summary>The name on the command line and in config files ("lora").</summary>
    public required string Name { get; init; }
    /// <summary>How people write it ("LoRA").</summary>
    public required string Title { get; init; }
    /// <summary>One line: what the method trains.</summary>
    public required string Summary { get; init; }
    /// <summary>True when <c>peft train</c> can train it; false when PeftSharp only loads, runs and saves its adapters.</summary>
    public required bool Trains { get; init; }
    /// <summary>Whether its update can be folded into the base weights (merge, merge_and_unload).</summary>
    public required bool Mergeable { get; init; }
    /// <summary>When it cannot merge, why, as the end of the refusal ("... cannot be merged: &lt;this&gt;"); null says only that it does not.</summary>
    public string? NotMergeableBecause { get; init; }
    /// <summary>False for a method of PeftSharp's own (bottleneck adapters): Python PEFT has no such peft_type and cannot load its files.</summary>
    public bool ReadByPythonPeft { get; init; } = true;
    /// <summary>Shared options it reads (the report shows only those).</summary>
    public SharedInputs Uses { get; init; }
    /// <summary>Where it goes when no target_modules are given, per model_type; PEFT's own tables.</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> DefaultTargets { get; init; } = new Dictionary<string, IReadOnlyList<string>>();
    /// <summary>Options of its own (config keys and flags), declared as <see cref="MethodOption{T}"/> fields in its folder.</summary>
    public IReadOnlyList<OptionSpec> Options { get; init; } = [];
}
