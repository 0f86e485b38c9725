using System.CommandLine;
using PeftSharp.Models;

namespace PeftSharp.Cli.Commands;

/// <summary><c>peft merge</c>: fold adapters into the base weights and write a plain Hugging Face model folder.</summary>
public static class MergeCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = CommonOptions.Adapters();
        adapters.Required = true;
        var output = new Option<string>("--out") { Description = "Folder for the merged model (must not exist or be empty)", Required = true };
        var cmd = new Command("merge", "Merge adapters into the base model and save it as a Hugging Face folder") { model, adapters, output };
        cmd.SetAction(r => CommandRunner.Run(() => Run(r.GetValue(model)!, r.GetValue(adapters) ?? [], r.GetValue(output)!)));
        return cmd;
    }

    private static int Run(string modelDir, string[] adapters, string outDir)
    {
        using var model = BaseModelLoading.Load(modelDir);
        var peft = AdapterLoading.Load(model, adapters, merge: false)!;
        peft.MergeAndUnload([.. peft.Configs.Keys]);
        ModelSaver.Save(model, outDir, modelDir);
        Console.WriteLine($"merged {adapters.Length} adapter(s) into {model.ArchitectureName}; wrote {Path.GetFullPath(outDir)}");
        return 0;
    }
}
