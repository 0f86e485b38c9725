using System.CommandLine;
using System.Globalization;
using PeftSharp.IO;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Combination;

namespace PeftSharp.Cli.Commands;

/// <summary>
/// <c>peft combine</c>: PEFT's add_weighted_adapter from the command line. The source adapters are loaded onto the base
/// model, combined (<see cref="PeftModel.AddWeightedAdapter(IReadOnlyList{string}, IReadOnlyList{double}, string, AdapterCombination)"/>)
/// and the result written as an ordinary PEFT adapter folder. Every check the command can make without the model
/// (the output folder, the parameters against the type, the number of weights) runs before the model is loaded, and a
/// refused combination writes nothing.
/// </summary>
public static class CombineCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = CommonOptions.Adapters();
        adapters.Description = "Source adapter folder, or NAME=FOLDER (messages name it so; default: the folder's name); repeatable, in the order of --weights";
        adapters.Required = true;
        var weights = CommonOptions.Weights();
        weights.Required = true;
        var type = new Option<string>("--combination", "-c")
        {
            Description = $"How to combine: {string.Join(", ", CombinationTypes.Names)} (PEFT's combination types; see docs/combining.md)",
            Required = true,
        };
        var density = new Option<double?>("--density") { Description = "Fraction of each task tensor's entries kept, in (0, 1]: required by ties, dare_*, magnitude_prune and their _svd variants" };
        var sign = new Option<string>("--majority-sign-method")
        {
            Description = "TIES sign election (ties, ties_svd, dare_ties, dare_ties_svd): total or frequency",
            DefaultValueFactory = _ => "total",
        };
        var svdRank = new Option<int?>("--svd-rank") { Description = "Rank of the SVD types' result (default: the largest source rank)" };
        var svdClamp = new Option<double?>("--svd-clamp") { Description = "SVD types: clamp the factors' entries to this quantile of their magnitudes, in (0, 1]" };
        var svdFull = new Option<bool>("--svd-full-matrices") { Description = "SVD types: full (true, PEFT's default) or reduced (false) SVD; the truncated result is the same up to rounding", DefaultValueFactory = _ => true };
        var seed = new Option<ulong>("--seed") { Description = "Seed of DARE's random drop: the same seed gives the same file on any machine", DefaultValueFactory = _ => 0UL };
        var peft018 = new Option<bool>("--peft018-svd-scaling")
        {
            Description = "SVD types: weight each adapter by wᵢ·sᵢ as PEFT 0.18.1 does (its scaling twice), to reproduce its files; the default applies each scaling once",
        };
        var output = new Option<string>("--out") { Description = "Folder for the combined adapter (must not exist or be empty)", Required = true };
        var cmd = new Command("combine", "Combine adapters into one (PEFT's add_weighted_adapter: svd, linear, cat, ties, dare_*, magnitude_prune, ...)")
        {
            model, adapters, weights, type, density, sign, svdRank, svdClamp, svdFull, seed, peft018, output,
        };
        cmd.SetAction(r => CommandRunner.Run(() =>
        {
            var combination = new AdapterCombination(CombinationTypes.Parse(r.GetValue(type)!))
            {
                Density = r.GetValue(density),
                MajoritySignMethod = ParseSign(r.GetValue(sign)!),
                SvdRank = r.GetValue(svdRank),
                SvdClamp = r.GetValue(svdClamp),
                SvdFullMatrices = r.GetValue(svdFull),
                Seed = r.GetValue(seed),
                Peft018SvdScaling = r.GetValue(peft018),
            };
            if (combination.Peft018SvdScaling && !combination.Type.IsSvd())
                throw new PeftException($"--peft018-svd-scaling applies to the SVD types; {CombinationTypes.NameOf(combination.Type)} makes no SVD");
            return Run(r.GetValue(model)!, r.GetValue(adapters) ?? [], CommonOptions.ParseWeights(r.GetValue(weights)!), combination, r.GetValue(output)!);
        }));
        return cmd;
    }

    private static int Run(string modelDir, string[] arguments, double[] weights, AdapterCombination combination, string outDir)
    {
        var full = Path.GetFullPath(outDir);
        AtomicFolder.RequireEmpty(outDir);
        combination.Validate(arguments.Length, weights.Length);
        var sources = SourceNames(arguments);

        using var model = BaseModelLoading.Load(modelDir);
        var peft = PeftModel.Load(model, sources[0].Folder, sources[0].Name);
        foreach (var (name, folder) in sources.Skip(1)) peft.LoadAdapter(folder, name);
        foreach (var w in peft.Warnings) BaseModelLoading.Warn(w);
        var names = sources.Select(s => s.Name).ToList();
        peft.AddWeightedAdapter(names, weights, PeftModel.DefaultAdapter, combination);
        AtomicFolder.Write(full, temp => peft.Save(temp, [PeftModel.DefaultAdapter]), overwrite: true);

        var config = peft.Configs[PeftModel.DefaultAdapter];
        var terms = string.Join(" ", names.Select((n, i) => string.Create(CultureInfo.InvariantCulture, $"{(i == 0 ? (weights[i] < 0 ? "-" : "") : weights[i] < 0 ? "- " : "+ ")}{Math.Abs(weights[i]):G6}·{n}")));
        Console.WriteLine($"combined {terms} ({combination}) into one {TunerRegistry.For(config.PeftType).Description.Title} adapter "
            + $"on {peft.Layers.Count(l => l.Layer.AdapterNames.Contains(PeftModel.DefaultAdapter))} module(s); wrote {full}");
        return 0;
    }

    /// <summary>Each source's name: NAME of NAME=FOLDER, else the folder's own name; never "default", the result's name, and never twice.</summary>
    private static List<(string Name, string Folder)> SourceNames(IReadOnlyList<string> arguments)
    {
        var result = new List<(string Name, string Folder)>();
        foreach (var argument in arguments.Select(AdapterArgument.Parse))
        {
            string name = argument.Name ?? Path.GetFileName(Path.TrimEndingDirectorySeparator(Path.GetFullPath(argument.Folder)));
            if (argument.Name != null && result.Any(r => r.Name == name))
                throw new PeftException($"two --adapter arguments are named \"{name}\": give each its own NAME=FOLDER");
            string unique = name;
            for (int k = 2; unique == PeftModel.DefaultAdapter || result.Any(r => r.Name == unique); k++) unique = $"{name}-{k}";
            result.Add((unique, argument.Folder));
        }
        return result;
    }

    private static MajoritySignMethod ParseSign(string text) => text.Trim().ToLowerInvariant() switch
    {
        "total" => MajoritySignMethod.Total,
        "frequency" => MajoritySignMethod.Frequency,
        _ => throw new PeftException($"--majority-sign-method: \"{text}\" is not total or frequency"),
    };
}
