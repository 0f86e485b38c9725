using PeftSharp.Options;
using PeftSharp.Tests.Support;
using PeftSharp.Training;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;

namespace PeftSharp.Tests.Cli;

/// <summary>
/// The registry is the only list of methods: what each method declares in its folder shows up by itself in
/// <c>peft train --help</c>, the allowed values of method, <c>peft methods</c>, config keys and validation.
/// </summary>
[Collection(CliRunner.Collection)]
public class MethodRegistryTests
{
    public static TheoryData<string> Methods()
    {
        var data = new TheoryData<string>();
        foreach (var t in TunerRegistry.All) data.Add(t.Description.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void Every_method_describes_itself_completely(string name)
    {
        var d = TunerRegistry.Named(name)!.Description;
        Assert.Same(TunerRegistry.Named(name), TunerRegistry.For(d.PeftType));
        Assert.Matches("^[a-z][a-z0-9_-]*$", d.Name); // one word on the command line: prefix-tuning
        Assert.False(string.IsNullOrWhiteSpace(d.Title));
        Assert.True(d.Summary.Length > 20, $"{name}: a one-line summary of what it trains");
        Assert.All(d.Options, o => Assert.True(o.AppliesTo(name), $"{o.Key} is listed by {name} but does not apply to it"));
        if (d.Uses.HasFlag(SharedInputs.Targets))
            foreach (var modelType in new[] { "gpt2", "llama", "bert", "t5" })
                Assert.True(d.DefaultTargets.ContainsKey(modelType), $"{name}: no default targets for {modelType}");
    }

    [Theory]
    [MemberData(nameof(Methods))]
    public void A_method_that_trains_is_a_choice_of_method_and_its_options_are_flags(string name)
    {
        var d = TunerRegistry.Named(name)!.Description;
        Assert.Equal(d.Trains, new TrainingMethods().Values.Contains(name));
        var (exit, help, err) = CliRunner.Run("train", "--help");
        Assert.True(exit == 0, err);
        foreach (var option in d.Options)
        {
            Assert.Contains("--" + option.Flag, help);
            // a method's own option is marked [name]; one shared by several methods lists them all: [prompt-tuning, p-tuning]
            Assert.Matches($@"\[([a-z0-9_-]+, )*{System.Text.RegularExpressions.Regex.Escape(name)}(, [a-z0-9_-]+)*\] {System.Text.RegularExpressions.Regex.Escape(option.Help)}", help);
            Assert.Same(option, TrainingSchema.ByKey[option.Key]);
        }
        var (_, methods, _) = CliRunner.Run("methods");
        methods = System.Text.RegularExpressions.Regex.Replace(methods, @"\s+", " "); // the terminal wraps long lines
        Assert.Contains(d.Summary, methods);
        Assert.Contains(d.PeftType, methods);
    }

    [Fact]
    public void Every_option_has_its_own_real_help_line()
    {
        var (_, help, _) = CliRunner.Run("train", "--help");
        Assert.DoesNotContain("see TrainingOptions", help);
        foreach (var spec in TrainingSchema.All)
        {
            Assert.True(spec.Help.Length >= 10, $"{spec.Key}: help \"{spec.Help}\" says too little");
            Assert.Contains("--" + spec.Flag, help);
        }
        Assert.Equal(TrainingSchema.All.Count, TrainingSchema.All.Select(s => s.Help).Distinct().Count());
    }

    [Fact]
    public void The_old_lora_names_are_aliases_of_the_shared_options()
    {
        Assert.Same(TrainingSchema.ByKey["rank"], TrainingSchema.ByKey["lora_r"]);
        Assert.Same(TrainingSchema.ByKey["alpha"], TrainingSchema.ByKey["lora_alpha"]);
        Assert.Same(TrainingSchema.ByKey["dropout"], TrainingSchema.ByKey["lora_dropout"]);
        var o = TrainConfigFile.ParseYaml("lora_r: 4\nalpha: 9\nlora_dropout: 0.2\n", "t.yaml");
        Assert.Equal((4, 9.0, 0.2), (o.Rank, o.Alpha, o.Dropout));
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.ParseYaml("rank: 4\nlora_r: 8\n", "t.yaml"));
        Assert.Contains("\"lora_r\" and \"rank\" are the same option, given twice", e.Message);
        Assert.Equal(16, TrainConfigFile.ApplyOverrides(new TrainingOptions(), new Dictionary<string, string> { ["lora-r"] = "16" }).Rank);
    }

    [Fact]
    public void An_option_of_another_method_is_refused_and_a_methods_own_check_runs()
    {
        var valid = new TrainingOptions { Model = "m", TrainData = "t.jsonl", Output = "o" };
        var dora = TrainingSchema.Set(valid with { Method = "ia3" }, LoraOptions.UseDora, true);
        var e = Assert.Throws<PeftException>(() => TrainConfigFile.Validate(dora));
        Assert.Contains("use_dora is an option of method lora, but method is ia3", e.Message);
        TrainConfigFile.Validate(dora with { Method = "lora" });
        // An option several methods share is valid for each of them (found by the interop check: peft train
        // --method prompt-tuning --num-virtual-tokens 5 was refused), and still refused for the others.
        var shared = TrainingSchema.Set(valid, PeftSharp.Tuners.PromptLearning.PromptLearningOptions.NumVirtualTokens, 5);
        foreach (var method in new[] { "prompt-tuning", "prefix-tuning", "p-tuning" }) TrainConfigFile.Validate(shared with { Method = method });
        Assert.Contains("num_virtual_tokens is an option of method prompt-tuning, prefix-tuning, p-tuning, but method is lora",
            Assert.Throws<PeftException>(() => TrainConfigFile.Validate(shared with { Method = "lora" })).Message);
        var init = TrainingSchema.Set(valid, LoraOptions.InitLoraWeights, "loftq");
        Assert.Contains("init_lora_weights \"loftq\" is not supported", Assert.Throws<PeftException>(() => TrainConfigFile.Validate(init)).Message);
    }

    [Fact]
    public void The_written_config_carries_the_methods_options_with_their_values()
    {
        var o = new TrainingOptions { Model = "m", TrainData = "t.jsonl" };
        var yaml = TrainConfigFile.ToYaml(o);
        Assert.Contains("use_dora: false\n", yaml);
        Assert.Contains("init_lora_weights: \"true\"\n", yaml);
        Assert.DoesNotContain("use_dora", TrainConfigFile.ToYaml(o with { Method = "ia3" }));
        var back = TrainConfigFile.ParseYaml(yaml, "config.yaml");
        Assert.False(LoraOptions.UseDora.Get(back.MethodOptions));
        Assert.Equal(OptionSpec.Show(TrainingSchema.Get(o, LoraOptions.InitLoraWeights)), OptionSpec.Show(TrainingSchema.Get(back, LoraOptions.InitLoraWeights)));
    }

    [Fact]
    public void The_report_line_comes_from_the_method()
    {
        var o = TrainingSchema.Set(new TrainingOptions { Rank = 4, Alpha = 8, Dropout = 0.1 }, LoraOptions.UseDora, true);
        Assert.Equal("DoRA r=4, alpha=8, dropout 0.1; targets the architecture's default", TrainingMethods.Describe(o));
        Assert.Equal("IA3; targets the architecture's default", TrainingMethods.Describe(new TrainingOptions { Method = "ia3" }));
        Assert.Equal("VeRA r=8, dropout 0.05; targets k", TrainingMethods.Describe(new TrainingOptions { Method = "vera", TargetModules = ["k"] }));
        Assert.Equal("full fine-tuning", TrainingMethods.Describe(new TrainingOptions { Method = "full" }));
    }
}
