using System.CommandLine;
using PeftSharp.Tuners;
using Spectre.Console;
using TorchSharp;

namespace PeftSharp.Cli.Commands;

/// <summary><c>peft inspect</c>: what a model folder holds, before anyone spends time training on it.</summary>
public static class InspectCommand
{
    /// <summary>
    /// Deep enough to reach a decoder's projections (model.layers.0.self_attn.q_proj), the modules adapters target;
    /// short because repeated layers are shown once.
    /// </summary>
    public const int DefaultDepth = 5;

    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = CommonOptions.Adapters();
        var depth = new Option<int>("--depth") { Description = "Levels of the module tree to print (0 = no tree); repeated layers are shown once", DefaultValueFactory = _ => DefaultDepth };
        var cmd = new Command("inspect", "Show a model's architecture, parameter count, dtype and module tree with shapes") { model, adapters, depth };
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapters) ?? [], r.GetValue(depth))));
        return cmd;
    }

    private static int Run(string modelDir, string[] adapters, int depth)
    {
        var console = Terminal.Out();
        using var model = BaseModelLoading.Load(modelDir);
        var peft = AdapterLoading.Load(model, adapters, merge: false);
        // The base's own parameters: every parameter that no adapter holds (found by identity, not by name).
        var adapterTensors = peft?.Layers.SelectMany(l => l.Layer.AdapterNames.SelectMany(a => l.Layer.AdapterParameters(a)))
            .Select(p => (object)p.Parameter).ToHashSet(ReferenceEqualityComparer.Instance) ?? [];
        var parameters = model.named_parameters().Where(p => !adapterTensors.Contains(p.parameter)).ToList();
        long total = parameters.Sum(p => p.parameter.numel());
        var dtypes = parameters.Select(p => p.parameter.dtype.ToString()).Distinct();

        var grid = new Grid().AddColumn().AddColumn();
        grid.AddRow("[bold]architecture[/]", Markup.Escape($"{model.ArchitectureName} (model_type {model.Config.ModelType})"));
        grid.AddRow("[bold]parameters[/]", $"{total:N0}");
        grid.AddRow("[bold]dtype[/]", string.Join(", ", dtypes));
        grid.AddRow("[bold]folder[/]", Markup.Escape(Path.GetFullPath(modelDir)));
        console.Write(grid);
        if (peft != null)
        {
            foreach (var (name, config) in peft.Configs)
            {
                var method = TunerRegistry.For(config.PeftType).Description;
                console.Write(new Rule(Markup.Escape($"adapter \"{name}\" ({method.Title}, {config.PeftType})")).LeftJustified());
                console.MarkupLine(Markup.Escape($"{method.Summary}; {(method.Mergeable ? "can be merged" : "cannot be merged")}; "
                    + (method.Trains ? $"peft train --method {method.Name} trains it" : "training it is not implemented (loads, runs, saves)")));
                Console.WriteLine(config.ToJson());
            }
            peft.SetAdapter(PeftSharp.Tuners.PeftModel.DefaultAdapter, trainable: true);
            Console.WriteLine(peft.TrainableParameters().ToString());
        }

        if (depth > 0)
        {
            var tree = new Tree(Markup.Escape(model.ArchitectureName));
            AddChildren(tree.AddNode, model, depth);
            console.Write(tree);
            if (model.named_modules().Any(m => m.name.Split('.').Length > depth)) Console.WriteLine($"(deeper levels hidden; --depth N shows N levels)");
        }
        return 0;
    }

    /// <summary>
    /// One node per module: its name, clean type name and parameter count, its own parameters' shapes. A run of numbered
    /// siblings with the same structure (a model's layers) shows the first and one line for the rest; a layer that an
    /// adapter changed differently (layers_to_transform) differs in structure and is shown on its own.
    /// </summary>
    private static void AddChildren(Func<string, TreeNode> add, torch.nn.Module module, int depth)
    {
        foreach (var (name, p) in module.named_parameters(recurse: false))
            add(Markup.Escape($"{name} [{string.Join(", ", p.shape)}] {p.dtype}"));
        if (depth == 0) return;
        var children = module.named_children().ToList();
        for (int i = 0; i < children.Count; i++)
        {
            var (name, child) = children[i];
            long count = child.parameters().Sum(p => p.numel());
            int same = 0;
            if (int.TryParse(name, out _))
                while (i + same + 1 < children.Count && int.TryParse(children[i + same + 1].name, out _)
                       && Structure(children[i + same + 1].module) == Structure(child)) same++;
            var node = add(Markup.Escape($"{name}: {TypeName(child)} ({count:N0})"));
            AddChildren(node.AddNode, child, depth - 1);
            if (same == 0) continue;
            var range = same == 1 ? children[i + 1].name : $"{children[i + 1].name}-{children[i + same].name}";
            add(Markup.Escape($"{range}: {same} more {TypeName(child)} like {name} ({count * same:N0})"));
            i += same;
        }
    }

    /// <summary>The type name a reader knows: "LoraLayer", "Linear", "ModuleList"; no namespace, no generic arity.</summary>
    public static string TypeName(torch.nn.Module module)
    {
        var name = module.GetType().Name;
        int tick = name.IndexOf('`');
        return tick < 0 ? name : name[..tick];
    }

    /// <summary>Types and parameter shapes of a module and everything in it, to tell identical layers from changed ones.</summary>
    private static string Structure(torch.nn.Module module) =>
        string.Join(";", module.named_modules().Select(m => $"{m.name}:{TypeName(m.module)}"))
        + "|" + string.Join(";", module.named_parameters().Select(p => $"{p.name}[{string.Join(",", p.parameter.shape)}]{p.parameter.dtype}"));
}
