using System.CommandLine;
using System.Globalization;
using PeftSharp.Options;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// Options of the schema as a command's flags: <c>--flag</c> from the key, its other keys and short spellings as
/// aliases, its help line; and back, the flags a user gave as text ("true"/"false" for switches), for
/// <c>TrainConfigFile.ApplyOverrides</c> and the like to convert and check. One place for <c>train</c> and <c>analyze</c>.
/// </summary>
internal sealed class SchemaFlags
{
    private readonly List<(OptionSpec Spec, Option Option)> _flags = [];

    public void Add(Command command, OptionSpec spec, string? help = null)
    {
        var aliases = spec.Aliases.Select(a => "--" + a.Replace('_', '-')).Concat(spec.ShortFlags).ToArray();
        Option option = spec.Kind == OptionKind.Bool
            ? new Option<bool>("--" + spec.Flag, aliases) { Description = help ?? spec.HelpLine }
            : new Option<string?>("--" + spec.Flag, aliases) { Description = help ?? spec.HelpLine };
        _flags.Add((spec, option));
        command.Options.Add(option);
    }

    /// <summary>The flags given on this command line (not defaults), by spec, as text.</summary>
    public IEnumerable<(OptionSpec Spec, string Value)> Given(ParseResult r)
    {
        foreach (var (spec, option) in _flags)
        {
            var result = r.GetResult(option);
            if (result is null || result.Implicit) continue;
            yield return (spec, option is Option<bool> b ? r.GetValue(b).ToString(CultureInfo.InvariantCulture).ToLowerInvariant() : r.GetValue((Option<string?>)option) ?? "");
        }
    }
}
