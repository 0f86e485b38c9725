using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tuners;
using static TorchSharp.torch;

namespace PeftSharp.Training.Analysis;

/// <summary>
/// LoRA-drop's score (Zhou et al. 2024): train LoRA on every linear candidate for a few steps, then sum each layer's
/// output change over the sample, <c>score(m) = Σ_x ||ΔW_m x||²</c> (all positions of unpadded, one-example batches).
/// ΔW x is read as the adapted layer's output minus its base layer's on the same input, so it holds for any
/// wrapper (and includes LoRA's scaling, the same for every layer). Leaves the model wrapped: it runs last.
/// </summary>
internal static class LoraDropScores
{
    public static double[] Measure(PretrainedModel model, TaskKind kind, IReadOnlyList<TokenizedExample> sample, Collator collator,
        IReadOnlyList<ModuleCandidate> candidates, AnalysisSettings settings, long seed, Device device, Action<string, int, int>? progress)
    {
        var linear = candidates.Where(c => c.Kind == CandidateKind.Linear).Select(c => c.Name).ToList();
        var result = candidates.Select(_ => double.NaN).ToArray();
        if (linear.Count == 0) return result;
        var lora = TunerRegistry.Named("lora") ?? throw new InvalidOperationException("LoRA is not registered");
        var heads = model.FreshParameters.Select(p => p[..p.LastIndexOf('.')]).Distinct().ToList();
        manual_seed(seed);
        var peft = PeftModel.Create(model, lora.CreateConfig(new MethodSettings
        {
            Rank = settings.LoraDropRank,
            Alpha = 2 * settings.LoraDropRank,
            Targets = new TargetSpec { TargetList = linear },
            ModulesToSave = heads.Count > 0 ? heads : null,
            TaskType = TrainingMethods.TaskType(kind),
            Seed = seed,
        }));
        Warmup.Run(model, kind, peft.TrainableNamedParameters().ToList(), sample, collator, settings.AnalysisBatchSize, settings.LoraDropSteps,
            settings.LoraDropLearningRate, seed, device, (d, t) => progress?.Invoke("lora-drop warm-up", d, t));

        var recorders = new Dictionary<string, ContributionRecorder>(StringComparer.Ordinal);
        foreach (var (path, layer) in peft.Layers.ToList())
        {
            if (!linear.Contains(path) || layer is not nn.Module<Tensor, Tensor> wrapper || layer.BaseLayer is not nn.Module<Tensor, Tensor> baseLayer) continue;
            var recorder = new ContributionRecorder(wrapper, baseLayer);
            ModuleTree.Replace(model, path, recorder);
            recorders[path] = recorder;
        }
        model.eval();
        var loader = new DataLoader(sample, collator, 1, 0, shuffle: false);
        int done = 0;
        using (no_grad())
            foreach (var batch in loader.Epoch(0))
            {
                using var scope = NewDisposeScope();
                using var tensors = batch.ToTensors(device);
                model.forward(tensors.Inputs);
                progress?.Invoke("lora-drop contributions", ++done, sample.Count);
            }
        for (int c = 0; c < candidates.Count; c++)
            if (recorders.TryGetValue(candidates[c].Name, out var r)) result[c] = r.Sum;
        return result;
    }

    /// <summary>Passes forward through the adapted layer and adds up ||adapted(x) - base(x)||².</summary>
    private sealed class ContributionRecorder : nn.Module<Tensor, Tensor>
    {
        private readonly nn.Module<Tensor, Tensor> inner;
        private readonly nn.Module<Tensor, Tensor> baseLayer;

        public ContributionRecorder(nn.Module<Tensor, Tensor> inner, nn.Module<Tensor, Tensor> baseLayer) : base("ContributionRecorder")
        {
            this.inner = inner;
            this.baseLayer = baseLayer;
            RegisterComponents();
        }

        public double Sum { get; private set; }

        public override Tensor forward(Tensor x)
        {
            var y = inner.forward(x);
            Sum += y.sub(baseLayer.forward(x)).square().sum().item<float>();
            return y;
        }
    }
}
