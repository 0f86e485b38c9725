using System.CommandLine;
using PeftSharp.Tuners;
using Spectre.Console;
using TorchSharp;

namespace PeftSharp.Cli.Commands;

/// <summary><c>peft inspect</c>: what a model folder holds, before anyone spends time training on it.</summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = CommonOptions.Adapters();
        var depth = new Option<int>("--depth") { Description = "Depth of the module tree to print (0 = no tree)", DefaultValueFactory = _ => 99 };
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
        }
        return 0;
    }

    private static void AddChildren(Func<string, TreeNode> add, torch.nn.Module module, int depth)
    {
        foreach (var (name, p) in module.named_parameters(recurse: false))
            add(Markup.Escape($"{name} [{string.Join(", ", p.shape)}] {p.dtype}"));
        if (depth == 0) return;
        foreach (var (name, child) in module.named_children())
        {
            long count = child.parameters().Sum(p => p.numel());
            var node = add(Markup.Escape($"{name}: {child.GetType().Name} ({count:N0})"));
            AddChildren(node.AddNode, child, depth - 1);
        }
    }
}
