namespace PeftSharp.Options;

/// <summary>
/// An option that belongs to one method (LoRA's use_dora), declared as a static field in the method's folder. Its value
/// lives in <see cref="OptionValues"/> beside the core options, so training, flags and config files carry it without
/// knowing the method; the method reads it back typed with <see cref="Get"/>.
/// </summary>
public sealed class MethodOption<T> : OptionSpec
{
    private readonly Func<T, string?>? _check;

    /// <param name="method">The method's CLI name (lora).</param>
    /// <param name="check">A rule beyond type and range; returns the problem, or null when the value is fine.</param>
    public MethodOption(string method, string key, T defaultValue, OptionAttribute declaration, bool nullable = false, Func<T, string?>? check = null)
        : base(key, KindOf(typeof(T)), nullable || System.Nullable.GetUnderlyingType(typeof(T)) != null, defaultValue, declaration)
    {
        Methods = [method];
        _check = check;
    }

    /// <summary>An option shared by several methods (prompt tuning, prefix tuning and P-tuning all take num_virtual_tokens): declared once, listed in each method's description.</summary>
    public MethodOption(IReadOnlyList<string> methods, string key, T defaultValue, OptionAttribute declaration, bool nullable = false, Func<T, string?>? check = null)
        : base(key, KindOf(typeof(T)), nullable || System.Nullable.GetUnderlyingType(typeof(T)) != null, defaultValue, declaration)
    {
        if (methods.Count == 0) throw new ArgumentException("an option needs at least one method", nameof(methods));
        Methods = methods.ToArray();
        _check = check;
    }

    /// <summary>The methods' CLI names, for help lines ("prompt-tuning, prefix-tuning").</summary>
    public override string Method => string.Join(", ", Methods);

    public IReadOnlyList<string> Methods { get; }

    public override bool AppliesTo(string method) => Methods.Contains(method);

    /// <summary>The value given, else the default.</summary>
    public T Get(OptionValues values) => values.TryGet(Key, out var v) ? (T)v! : (T)Default!;

    protected override string? Check(object? value) => _check != null && value is T t ? _check(t) : null;
}
