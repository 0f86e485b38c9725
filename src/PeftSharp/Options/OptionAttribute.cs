namespace PeftSharp.Options;

/// <summary>
/// The declaration of an option: help line, other spellings, allowed values or range. On a property of an options
/// record it declares a core option (key from the property name); a method passes one to <see cref="MethodOption{T}"/>.
/// Attribute arguments must be constants, so "no bound" is NaN.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OptionAttribute(string help) : Attribute
{
    public string Help { get; } = help;
    /// <summary>The key when it is not the property name in snake_case (use_rslora, as PEFT spells it).</summary>
    public string? Key { get; init; }
    public string[] Aliases { get; init; } = [];
    public string[] ShortFlags { get; init; } = [];
    public bool IsPath { get; init; }
    public string[] Choices { get; init; } = [];
    /// <summary>A type implementing <see cref="IChoices"/>, for choices known at run time.</summary>
    public Type? ChoicesFrom { get; init; }
    public double Min { get; init; } = double.NaN;
    public double Max { get; init; } = double.NaN;
    public bool MinExclusive { get; init; }
    public bool MaxExclusive { get; init; }
    /// <summary>What a special value means, shown with the range ("0 = off").</summary>
    public string? RangeNote { get; init; }
    /// <summary>A list option whose items must not be blank.</summary>
    public bool NoEmptyItems { get; init; }
    /// <summary>
    /// A value that may differ when a run is resumed (its length, how often it evaluates, logs and saves, where and how
    /// it runs) because it does not change what the steps already taken computed. Every other option must be as the
    /// run's checkpoint recorded it; the resume check and the README's list are derived from this flag.
    /// </summary>
    public bool MayChangeOnResume { get; init; }
}
