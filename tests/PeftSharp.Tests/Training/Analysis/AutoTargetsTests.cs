using System.Text.Json.Nodes;
using PeftSharp.IO.Safetensors;
using PeftSharp.Tests.Support;
using PeftSharp.Tests.Training;
using PeftSharp.Training;
using PeftSharp.Training.Analysis;

namespace PeftSharp.Tests.Training.Analysis;

/// <summary>target_modules auto: the allocation rule on known scores, and whole runs whose adapter Python PEFT can read.</summary>
public class AutoTargetsTests
{
    private static AnalysisResult Scores(params (string Name, double Score, long In, long Out)[] modules) => new()
    {
        Model = "m", Data = "d", Task = "classification", Seed = 1, Samples = 1, Estimators = ["sensitivity"],
        Modules = modules.Select((m, i) => new AnalyzedModule(new ModuleCandidate(m.Name, CandidateKind.Linear, "", null, m.Name, m.In * m.Out, m.In, m.Out),
            m.Score > 0 ? new Dictionary<string, ModuleScore> { ["sensitivity"] = new(m.Score, 0, i + 1) } : new Dictionary<string, ModuleScore>())).ToList(),
    };

    private static long Lora(ModuleCandidate c, int r) => r * (c.InFeatures + c.OutFeatures);

    [Fact]
    public void Ranks_follow_importance_per_parameter_within_the_budget()
    {
        var analysis = Scores(("a", 4, 10, 10), ("b", 2, 10, 10), ("c", 1, 10, 10), ("d", 0, 10, 10), ("wide", 4, 40, 40));
        var plan = AutoTargets.Plan(analysis, "sensitivity", 400, 4, 8, Lora, "test");
        Assert.True(plan.Used <= 400);
        Assert.True(plan.Used > 400 - 20, $"left {400 - plan.Used} unspent though a rank of a small module costs 20");
        var rank = plan.Chosen.ToDictionary(c => c.Name, c => c.Rank);
        Assert.DoesNotContain("d", rank.Keys); // no score, no rank
        Assert.True(rank["a"] > rank["b"] && rank["b"] >= rank.GetValueOrDefault("c"), string.Join(", ", rank));
        // the same score on a module four times as costly buys fewer ranks
        Assert.True(rank.GetValueOrDefault("wide") < rank["a"], string.Join(", ", rank));
        Assert.All(plan.Chosen, c => Assert.Equal(Lora(analysis.Modules.Single(m => m.Candidate.Name == c.Name).Candidate, c.Rank), c.Parameters));
        // alpha / r stays the run's 8 / 4 for every module
        Assert.All(plan.Patterns.Alpha, kv => Assert.Equal(2.0 * plan.Patterns.Rank[kv.Key], kv.Value));
    }

    [Fact]
    public void Ranks_stop_at_four_times_the_run_rank_and_a_budget_too_small_for_rank_1_is_refused()
    {
        var plan = AutoTargets.Plan(Scores(("a", 1, 100, 100)), "sensitivity", 1_000_000, 2, 4, Lora, "test");
        Assert.Equal(8, plan.Chosen.Single().Rank);
        var e = Assert.Throws<PeftException>(() => AutoTargets.Plan(Scores(("a", 1, 100, 100)), "sensitivity", 150, 2, 4, Lora, "test"));
        Assert.Contains("too small", e.Message);
        e = Assert.Throws<PeftException>(() => AutoTargets.Plan(Scores(("a", 1, 100, 100)), "fisher", 150, 2, 4, Lora, "test"));
        Assert.Contains("no fisher scores", e.Message);
    }

    [Theory]
    [InlineData("73728", 73728)]
    [InlineData("73_728", 73728)]
    [InlineData("0.5%", 5000)]
    [InlineData("100%", 1_000_000)]
    public void Budgets_are_counts_or_percentages(string text, long expected) => Assert.Equal(expected, AutoTargets.ParseBudget(text, 1_000_000));

    [Theory]
    [InlineData("target_modules: [auto]", "needs trainable_budget")]
    [InlineData("target_modules: [auto]\ntrainable_budget: 0%", "not a positive parameter count")]
    [InlineData("target_modules: [auto]\ntrainable_budget: lots", "not a positive parameter count")]
    [InlineData("trainable_budget: 1000", "for target_modules auto")]
    [InlineData("method: ia3\ntarget_modules: [auto]\ntrainable_budget: 1000", "per-module ranks")]
    public void Wrong_auto_options_are_refused_before_anything_runs(string yaml, string message)
    {
        OptionsAssert.Refused(yaml, message);
    }

    [Fact]
    public void A_run_with_auto_targets_writes_plain_targets_and_patterns_stays_in_budget_and_resumes_with_the_same_choice()
    {
        using var run = new TinyTrainingRun();
        var options = run.Options("auto") with { TargetModules = ["auto"], TrainableBudget = "1500", MaxSteps = 4, EvalEvery = 2, SaveEvery = 2, Epochs = 1 };
        var summary = TrainingSession.Run(options);
        var planPath = Path.Combine(options.Output, AutoTargetPlan.FileName);
        var plan = AutoTargetPlan.Read(planPath);
        Assert.True(plan.Used <= 1500 && plan.Used > 1500 - 2 * (32 + 64));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(summary.AdapterDir, "adapter_config.json")))!.AsObject();
        var targets = config["target_modules"]!.AsArray().Select(t => (string)t!).ToList();
        Assert.Equal(plan.Chosen.Select(c => c.Name).Order(), targets.Order());
        var ranks = config["rank_pattern"]!.AsObject();
        Assert.All(plan.Chosen.Where(c => c.Rank != options.Rank), c => Assert.Equal(c.Rank, (int)ranks[c.Name]!));
        // the LoRA tensors saved are exactly the plan's parameters
        using (var file = SafetensorsFile.Open(Path.Combine(summary.AdapterDir, "adapter_model.safetensors")))
            Assert.Equal(plan.Used, file.Entries.Where(e => e.Name.Contains("lora_", StringComparison.Ordinal)).Sum(e => e.Shape.Aggregate(1L, (a, b) => a * b)));
        Assert.Contains("auto targets", File.ReadAllText(Path.Combine(options.Output, "report.md")));

        // a resumed run reads its plan back rather than choosing again (the analysis, with another thread count, could differ)
        var before = File.ReadAllText(planPath);
        var resumed = TrainingSession.Run(options with { MaxSteps = 6, Resume = true });
        Assert.Equal(6, resumed.Steps);
        Assert.Equal(before, File.ReadAllText(planPath));
    }
}
