using System.Collections.Immutable;
using CsCheck;
using PeftSharp.Options;
using PeftSharp.Training;

namespace PeftSharp.Tests.Training;

/// <summary>config.yaml must reproduce the run: any value of any option survives ToYaml → ParseYaml.</summary>
public class TrainConfigRoundTripTests
{
    /// <summary>Strings YAML would read as something else unless quoted, plus escapes and non-ASCII.</summary>
    private static readonly Gen<string> Tricky = Gen.OneOfConst("", "true", "False", "null", "~", "8", "1e5", "-", "- a", "a: b", "# c",
        "[a]", "{b}", "'q'", "\"dq\"", "x\ny", "\t", " lead", "trail ", "é", "日本", "emoji 😀", "back\\slash", "\u0001", "&anchor", "*alias", "!tag", "%", "@", "`");

    private static readonly Gen<string> Text = Gen.OneOf(Tricky, Gen.String[Gen.Char[' ', '~'], 0, 24]);

    private static Gen<object?> For(Type type, bool isList, bool nullable)
    {
        Gen<object?> g = isList ? Text.Array[0, 4].Select(a => (object?)a.ToList())
            : type == typeof(int) ? Gen.Int.Select(v => (object?)v)
            : type == typeof(long) ? Gen.Long.Select(v => (object?)v)
            : type == typeof(double) ? Gen.Double.Where(double.IsFinite).Select(v => (object?)v)
            : type == typeof(bool) ? Gen.Bool.Select(v => (object?)v)
            : Text.Select(v => (object?)v);
        return nullable ? Gen.OneOf(Gen.Const((object?)null)!, g) : g;
    }

    private static readonly System.Reflection.PropertyInfo[] Properties = typeof(TrainingOptions).GetProperties().Where(p => p.PropertyType != typeof(OptionValues)).ToArray();

    /// <summary>Any subset of every method's options, each with any value of its type.</summary>
    private static readonly Gen<OptionValues> MethodValues = TrainingSchema.All.Where(s => s is not PropertyOption)
        .Aggregate(Gen.Const(OptionValues.Empty), (acc, spec) => acc.SelectMany(values => Gen.OneOf(Gen.Const(values),
            For(TypeOf(spec.Kind), spec.Kind == OptionKind.StringList, spec.Nullable).Select(v => values.With(spec.Key, v)))));

    private static Type TypeOf(OptionKind kind) => kind switch
    {
        OptionKind.Int => typeof(int), OptionKind.Long => typeof(long), OptionKind.Double => typeof(double), OptionKind.Bool => typeof(bool), _ => typeof(string),
    };

    private static readonly Gen<TrainingOptions> Options = Properties
        .Aggregate(Gen.Const(ImmutableList<object?>.Empty), (acc, p) =>
        {
            var type = Nullable.GetUnderlyingType(p.PropertyType) ?? p.PropertyType;
            bool isList = type == typeof(IReadOnlyList<string>);
            bool nullable = Nullable.GetUnderlyingType(p.PropertyType) != null
                || !type.IsValueType && new System.Reflection.NullabilityInfoContext().Create(p).WriteState == System.Reflection.NullabilityState.Nullable;
            var g = For(type, isList, nullable);
            return acc.SelectMany(values => g.Select(values.Add));
        })
        .SelectMany(values => MethodValues.Select(method =>
        {
            var o = new TrainingOptions { MethodOptions = method };
            for (int i = 0; i < Properties.Length; i++) Properties[i].SetValue(o, values[i]);
            return o;
        }));

    [Fact]
    public void Any_options_round_trip_through_yaml()
    {
        Options.Sample(o =>
        {
            var yaml = TrainConfigFile.ToYaml(o);
            var back = TrainConfigFile.ParseYaml(yaml, "config.yaml");
            OptionsAssert.Same(o, back);
            Assert.Equal(yaml, TrainConfigFile.ToYaml(back));
        }, iter: 300, print: o => TrainConfigFile.ToYaml(o));
    }

    [Fact]
    public void The_defaults_round_trip()
    {
        var o = new TrainingOptions();
        OptionsAssert.Same(o, TrainConfigFile.ParseYaml(TrainConfigFile.ToYaml(o), "config.yaml"));
    }
}
