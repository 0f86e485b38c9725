using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Tests.Training;
using PeftSharp.Training;
using PeftSharp.Training.Analysis;
using PeftSharp.Tuners;

namespace PeftSharp.Tests.Training.Analysis;

/// <summary>
/// layer_groups auto: SPAFIT's three groups placed by the analysis. The rule on known scores, the option checks, and
/// whole runs on a tiny three-layer BERT: from a given analysis (the groups follow its scores, not the depth) and from
/// an analysis of the training data made first, resumed with the same groups.
/// </summary>
[Collection(SerialRandomness.Name)]
public sealed class AutoLayerGroupsTests
{
    private static AnalysisResult LayerScores(params double[] perLayer) => new()
    {
        Model = "m", Data = "d", Task = "classification", Seed = 1, Samples = 1, Estimators = ["sensitivity"],
        // two candidates a layer, so a layer's score is a sum
        Modules = perLayer.SelectMany((score, layer) => new[] { "query", "value" }.Select(role =>
            new AnalyzedModule(new ModuleCandidate($"encoder.layer.{layer}.{role}", CandidateKind.Linear, $"encoder.layer.{layer}", layer, role, 16, 4, 4),
                new Dictionary<string, ModuleScore> { ["sensitivity"] = new(score / 2, 0, 1) }))).ToList(),
    };

    [Theory]
    [InlineData(new[] { 1.0, 2, 3, 4, 5, 6 }, "0-1:frozen,2-3:bias,4-5:adapter")] // importance rising with depth: SPAFIT's own order
    [InlineData(new[] { 6.0, 1, 5, 2, 4, 3 }, "0:adapter,1:frozen,2:adapter,3:frozen,4-5:bias")] // the scores decide, not the depth
    [InlineData(new[] { 1.0, 1, 1, 1 }, "0-1:bias,2-3:adapter")] // ties go to the deeper layer; thirds of 4 round up to 2
    [InlineData(new[] { 3.0, 0, 0 }, "0:adapter,1-2:frozen")] // a layer no score reached is frozen, not given biases
    [InlineData(new[] { 1.0 }, "0:adapter")]
    [InlineData(new[] { 1.0, 2 }, "0:bias,1:adapter")]
    public void The_top_third_by_score_gets_the_adapter_the_next_third_biases_and_the_rest_is_frozen(double[] scores, string expected)
    {
        var plan = AutoLayerGroups.Plan(LayerScores(scores), "sensitivity", scores.Length, "test");
        Assert.Equal(expected, plan.Groups.ToString());
        Assert.Equal(1.0, plan.Layers.Sum(l => l.Share), 12);
        Assert.Equal(scores, plan.Layers.Select(l => l.Score));
        Assert.Equal(expected, LayerGroups.Parse(expected)!.ToString()); // what layer_groups would spell by hand
    }

    [Fact]
    public void A_model_without_biases_gets_no_bias_group()
    {
        var plan = AutoLayerGroups.Plan(LayerScores(1, 2, 3, 4, 5, 6), "sensitivity", 6, "test", biases: false);
        Assert.Equal("0-3:frozen,4-5:adapter", plan.Groups.ToString());
    }

    [Fact]
    public void An_analysis_without_the_estimator_or_without_any_score_is_refused()
    {
        Assert.Contains("no fisher scores", Assert.Throws<PeftException>(() => AutoLayerGroups.Plan(LayerScores(1, 2), "fisher", 2, "t")).Message);
        Assert.Contains("scored no layer above zero", Assert.Throws<PeftException>(() => AutoLayerGroups.Plan(LayerScores(0, 0), "sensitivity", 2, "t")).Message);
    }

    [Theory]
    [InlineData("layer_groups: auto\ntarget_modules: [auto]\ntrainable_budget: 1000", "give one of them")]
    [InlineData("layer_groups: auto\nmethod: full", "is a baseline")]
    [InlineData("analysis: a.json", "analysis is for target_modules auto and layer_groups auto")]
    public void Wrong_auto_group_options_are_refused_before_anything_runs(string yaml, string message)
    {
        OptionsAssert.Refused(yaml, message);
    }

    [Fact]
    public void Auto_groups_pass_the_config_check_with_or_without_an_analysis_file()
    {
        TrainConfigFile.Validate(TrainConfigFile.ParseYaml("model: m\ntrain_data: d.jsonl\nlayer_groups: auto", "test.yaml"));
        TrainConfigFile.Validate(TrainConfigFile.ParseYaml("model: m\ntrain_data: d.jsonl\nlayer_groups: auto\nanalysis: a.json\ntarget_estimator: fisher", "test.yaml"));
    }

    [Fact]
    public void A_run_places_the_groups_by_a_given_analysis_and_its_adapter_and_report_say_so()
    {
        using var run = new TinyTrainingRun(layers: 3);
        // Scores that fall with depth, the opposite of SPAFIT's fixed order: layer 0 must get the adapter.
        AnalysisResult analysis;
        using (var model = AutoModel.ForSequenceClassification(run.ModelDir, 2))
            analysis = new AnalysisResult
            {
                Model = run.ModelDir, Data = run.DataFile, Task = "classification", Seed = 1, Samples = 8, Estimators = ["fisher"],
                Modules = ModuleCandidates.Of(model).Select(c => new AnalyzedModule(c.Candidate,
                    new Dictionary<string, ModuleScore> { ["fisher"] = new(c.Candidate.LayerIndex is int i ? 3 - i : 0, 0, 1) })).ToList(),
            };
        var file = Path.Combine(run.Root, "analysis.json");
        analysis.Write(file);
        var options = run.Options("given") with { LayerGroups = "auto", Analysis = file, TargetEstimator = "fisher", MaxSteps = 2, Epochs = 1 };
        var summary = TrainingSession.Run(options);

        var plan = LayerGroupPlan.Read(Path.Combine(options.Output, LayerGroupPlan.FileName));
        Assert.Equal("0:adapter,1:bias,2:frozen", plan.Groups.ToString());
        Assert.Equal(("fisher", $"from {file}"), (plan.Estimator, plan.Source));
        var config = JsonConfig.Load(Path.Combine(summary.AdapterDir, PeftModel.ConfigFile));
        Assert.Equal([0], config.GetIntList("layers_to_transform"));
        var biases = JsonConfig.Load(Path.Combine(summary.AdapterDir, LayerGroups.BiasAdapter, PeftModel.ConfigFile));
        Assert.Equal([0, 1], biases.GetIntList("layers_to_transform"));
        var report = File.ReadAllText(Path.Combine(options.Output, "report.md"));
        Assert.Contains("layers 0 LoRA and biases; 1 biases only (BitFit); 2 frozen (auto: 0:adapter,1:bias,2:frozen by fisher", report);
    }

    [Fact]
    public void Without_a_file_the_run_analyses_its_training_data_first_and_a_resume_keeps_the_groups()
    {
        using var run = new TinyTrainingRun(layers: 3);
        var options = run.Options("made") with { LayerGroups = "auto", MaxSteps = 2, SaveEvery = 2, Epochs = 1 };
        TrainingSession.Run(options);
        var path = Path.Combine(options.Output, LayerGroupPlan.FileName);
        var plan = LayerGroupPlan.Read(path);
        Assert.Equal("sensitivity", plan.Estimator);
        Assert.StartsWith("analysing ", plan.Source);
        Assert.Equal(3, plan.Layers.Count);
        Assert.Single(plan.Groups.Layers(LayerGroupKind.Adapter));
        var before = File.ReadAllText(path);
        var resumed = TrainingSession.Run(options with { MaxSteps = 4, Resume = true });
        Assert.Equal(4, resumed.Steps);
        Assert.Equal(before, File.ReadAllText(path));
    }
}
