using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tests.Support;
using PeftSharp.Training.Analysis;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Training.Analysis;

/// <summary>
/// peft analyze on tiny models where the answer is known by construction: the data is sampled from a teacher that is the
/// student with one module changed, so that module is the one the data depends on and every data estimator must rank it
/// first; the data-free score must rank an orthogonal matrix (κ = 1) first and a nearly singular one last.
/// </summary>
[Collection(SerialRandomness.Name)]
public class ModuleAnalysisTests
{
    private const string Planted = "transformer.h.1.mlp.c_fc";

    /// <summary>Sequences sampled from <paramref name="teacher"/>, token by token, from a fixed generator.</summary>
    private static List<TokenizedExample> Sample(PretrainedModel teacher, int count, int length, long seed)
    {
        var generator = new Generator((ulong)seed);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var ids = randint(1, 100, [count, 1], generator: generator, dtype: ScalarType.Int64);
        for (int t = 1; t < length; t++)
        {
            var logits = teacher.forward(new ModelInputs { InputIds = ids }).Logits!;
            var next = multinomial(softmax(logits[.., -1], -1), 1, generator: generator);
            ids = cat([ids, next], 1);
        }
        var rows = ids.data<long>().ToArray();
        return Enumerable.Range(0, count).Select(i =>
        {
            var row = rows.Skip(i * length).Take(length).Select(x => (int)x).ToArray();
            return new TokenizedExample { InputIds = row, Labels = row };
        }).ToList();
    }

    private static (PretrainedModel Student, List<TokenizedExample> Data) PlantedTask(long seed)
    {
        var config = TinyModels.Gpt2();
        var student = TinyModels.Create(config, seed);
        // A random model predicts nearly uniformly (entropy 4.56 nats of ln 100 = 4.61), so a changed module would hardly
        // change its samples; a larger final norm gain makes it decisive (entropy about 1 nat), and the plant visible.
        using (no_grad()) student.named_parameters().Single(p => p.name == "transformer.ln_f.weight").parameter.mul_(10);
        using var teacher = TinyModels.Create(config, seed);
        TinyModels.CopyWeights(student, teacher, (name, w) => name == Planted + ".weight" ? w.add(randn_like(w).mul(0.3)) : w);
        return (student, Sample(teacher, 96, 12, seed));
    }

    private static AnalysisResult Analyse(PretrainedModel model, IReadOnlyList<TokenizedExample> data, AnalysisSettings? settings = null, long seed = 3) =>
        ModuleAnalysis.Run(model, TaskKind.CausalLm, data, new Collator(0), settings ?? new AnalysisSettings { Samples = 96, LoraDropSteps = 30 },
            seed, CPU, "tiny-gpt2", "teacher samples", "causal-lm");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void LoRA_drop_finds_the_module_the_data_was_made_with(long seed)
    {
        var (model, data) = PlantedTask(seed);
        using (model)
        {
            var ranked = Analyse(model, data, new AnalysisSettings { Samples = 96, LoraDropSteps = 30, Estimators = [ImportanceEstimator.LoraDrop] })
                .Ranked(ImportanceEstimator.LoraDrop);
            Assert.True(ranked[0].Candidate.Name == Planted, string.Join(", ", ranked.Take(4).Select(m => $"{m.Candidate.Name} {m.Scores[ImportanceEstimator.LoraDrop].Share:P1}")));
        }
    }

    /// <summary>
    /// Layer 0's attention output projection set to zero: nothing of that attention reaches the loss, so its input
    /// projection, that projection's bias and the norm before it are not scored by any estimator (the data-free one
    /// included: it must not spend a budget on them), and the analysis says so; every module the loss does see is scored.
    /// </summary>
    [Fact]
    public void Modules_the_loss_cannot_see_are_not_scored_by_any_estimator()
    {
        var (model, data) = PlantedTask(1);
        using (model)
        {
            using (no_grad())
                foreach (var (name, p) in model.named_parameters())
                    if (name.StartsWith("transformer.h.0.attn.c_proj.", StringComparison.Ordinal)) p.zero_();
            var result = Analyse(model, data, new AnalysisSettings { Samples = 48, LoraDropSteps = 5 });
            string[] dead = ["transformer.h.0.attn.c_attn", "transformer.h.0.attn.c_attn.bias", "transformer.h.0.ln_1"];
            Assert.Equal(dead.Order(), result.Modules.Where(m => m.Scores.Count == 0).Select(m => m.Candidate.Name).Order());
            Assert.Contains(result.Notes, n => n.Contains("3 candidate(s) the task loss does not depend on", StringComparison.Ordinal) && n.Contains(dead[0], StringComparison.Ordinal));
            foreach (var estimator in result.Estimators)
                Assert.DoesNotContain(result.Ranked(estimator), m => dead.Contains(m.Candidate.Name));
            // the zeroed projection itself is reached (its gradient is not zero), and without weights has no sensitivity
            Assert.Equal(0, result.Modules.Single(m => m.Candidate.Name == "transformer.h.0.attn.c_proj").Scores[ImportanceEstimator.Sensitivity].Score);
            Assert.True(result.Modules.Single(m => m.Candidate.Name == "transformer.h.0.attn.c_proj").Scores[ImportanceEstimator.Fisher].Score > 0);
        }
    }

    [Fact]
    public void Kappa_ranks_an_orthogonal_matrix_first_and_a_nearly_singular_one_last()
    {
        using var model = TinyModels.Create(TinyModels.Gpt2());
        using (no_grad())
        {
            var square = (TorchSharp.Modules.Parameter)model.named_parameters().Single(p => p.name == "transformer.h.0.attn.c_proj.weight").parameter;
            var (q, _) = linalg.qr(randn(32, 32));
            square.copy_(q);
            var wide = model.named_parameters().Single(p => p.name == "transformer.h.1.attn.c_proj.weight").parameter;
            wide[1].copy_(wide[0].mul(1 + 1e-6));
        }
        var result = Analyse(model, [], new AnalysisSettings { Estimators = [ImportanceEstimator.Kappa] });
        var ranked = result.Ranked(ImportanceEstimator.Kappa);
        Assert.Equal("transformer.h.0.attn.c_proj", ranked[0].Candidate.Name);
        Assert.Equal(1.0, ranked[0].Scores[ImportanceEstimator.Kappa].Raw!.Value, 4);
        Assert.Equal("transformer.h.1.attn.c_proj", ranked[^1].Candidate.Name);
        Assert.All(result.Modules.Where(m => m.Candidate.Kind != CandidateKind.Linear), m => Assert.Empty(m.Scores));
    }

    [Fact]
    public void The_same_seed_gives_the_same_file_and_it_reads_back()
    {
        string Json(long seed)
        {
            var (model, data) = PlantedTask(1);
            using (model) return Analyse(model, data, new AnalysisSettings { Samples = 40, LoraDropSteps = 5 }, seed).ToJson().ToJsonString();
        }
        var first = Json(3);
        Assert.Equal(first, Json(3));
        Assert.NotEqual(first, Json(4)); // another sample of the data

        var dir = Directory.CreateTempSubdirectory("peft-analysis-").FullName;
        try
        {
            var path = Path.Combine(dir, AnalysisResult.FileName);
            File.WriteAllText(path, first);
            var read = AnalysisResult.Read(dir);
            Assert.Equal(first, read.ToJson().ToJsonString());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public void Candidates_are_every_linear_norm_and_bias_but_not_the_head_or_embeddings()
    {
        using var model = TinyModels.Create(TinyModels.Gpt2());
        var candidates = ModuleCandidates.Of(model).Select(c => c.Candidate).ToList();
        Assert.DoesNotContain(candidates, c => c.Name.StartsWith("lm_head", StringComparison.Ordinal) || c.Name.Contains("wte") || c.Name.Contains("wpe"));
        var c_attn = candidates.Single(c => c.Name == "transformer.h.1.attn.c_attn");
        Assert.Equal((CandidateKind.Linear, "transformer.h.1", 1, "attn.c_attn", 32L * 96, 32L, 96L),
            (c_attn.Kind, c_attn.Layer, c_attn.LayerIndex, c_attn.Role, c_attn.Parameters, c_attn.InFeatures, c_attn.OutFeatures));
        Assert.Contains(candidates, c => c.Name == "transformer.h.1.attn.c_attn.bias" && c.Kind == CandidateKind.Bias && c.Parameters == 96);
        var lnf = candidates.Single(c => c.Name == "transformer.ln_f");
        Assert.Equal((CandidateKind.Norm, "", (int?)null, 64L), (lnf.Kind, lnf.Layer, lnf.LayerIndex, lnf.Parameters));
        // 2 layers x (4 linear + 4 biases + 2 norms) + ln_f
        Assert.Equal(21, candidates.Count);
    }

    [Theory]
    [InlineData("""{"format": "other", "version": 1}""", "\"format\"")]
    [InlineData("""{"format": "peftsharp-module-analysis", "version": 9}""", "\"version\"")]
    [InlineData("""{"format": "peftsharp-module-analysis", "version": 1, "model": "m", "data": "d", "task": "t", "samples": 1, "estimators": [{"name": "magic"}], "modules": []}""", "magic")]
    [InlineData("""{"format": "peftsharp-module-analysis", "version": 1, "model": "m", "data": "d", "task": "t", "samples": 1, "estimators": [], "modules": [{"name": "a", "kind": "linear", "role": "a", "parameters": -4, "scores": {}}]}""", "\"parameters\"")]
    [InlineData("""{"format": "peftsharp-module-analysis", "version": 1, "model": "m", "data": "d", "task": "t", "samples": 1, "estimators": [], "modules": [{"name": "a", "kind": "conv", "role": "a", "parameters": 4, "scores": {}}]}""", "conv")]
    public void A_bad_analysis_file_is_one_error_naming_the_file_and_key(string json, string key)
    {
        var path = Path.Combine(Path.GetTempPath(), $"peft-bad-analysis-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, json);
        try
        {
            var e = Assert.Throws<PeftException>(() => AnalysisResult.Read(path));
            Assert.Contains(path, e.Message);
            Assert.Contains(key, e.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
