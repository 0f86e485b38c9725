using System.Diagnostics;
using System.Globalization;
using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using PeftSharp.Training;
using PeftSharp.Training.Reporting;
using static TorchSharp.torch;

namespace PeftSharp.Cli.Pretraining;

/// <summary>What one pretraining call did: the steps reached, its last logged losses and the checkpoint to write out.</summary>
public sealed record PretrainResult(int Step, bool Interrupted, double TrainLoss, double ValidationLoss, double Seconds, string Checkpoint,
    int TrainBlocks, int ValidationBlocks, int CorpusVocabulary)
{
    /// <summary>The held-out blocks, to evaluate the written model on.</summary>
    public IReadOnlyList<long[]> Validation { get; init; } = [];
}

/// <summary>
/// The pretraining loop of <see cref="TinyGpt2Recipe"/>: full training of every parameter on packed blocks of the
/// corpus, AdamW with a warm-up and cosine schedule, gradient clipping at 1 — what <c>peft train --method full --task
/// causal-lm</c> does, with one difference that makes it about three times faster: the loss is
/// <see cref="CorpusSoftmax"/>, the exact full-vocabulary cross-entropy computed over the ~10,000 tokens the corpus
/// uses instead of all 50,257 (the tied head was 85% of a step's arithmetic).
///
/// Deterministic and resumable: the blocks are split and ordered by the seed alone (epoch e visits the training
/// blocks in the permutation drawn from seed and e), nothing is random after the initialisation (no dropout), and
/// checkpoints hold the weights and the AdamW state; so a resumed run takes exactly the steps an uninterrupted one
/// takes, and the same seed gives the same weights on the same machine type.
/// </summary>
public static class Pretrainer
{
    public static PretrainResult Run(string data, string initDir, string runDir, long seed, int steps, int? stopAfter, bool resume, Action<string> log)
    {
        var tokenizer = AutoTokenizer.FromFolder(initDir);
        var issues = new DataIssueLog();
        var blocks = new CausalLmTask(tokenizer, TinyGpt2Recipe.BlockSize).Tokenize(DataFileReader.Read(data, issues), issues)
            .Where(b => b.InputIds.Length == TinyGpt2Recipe.BlockSize).Select(b => b.InputIds.Select(i => (long)i).ToArray()).ToArray();
        var order = Permutation(blocks.Length, new Random(unchecked((int)seed)));
        int validationCount = Math.Max(1, blocks.Length / 100);
        var validation = order.Take(validationCount).Select(i => blocks[i]).ToArray();
        var train = order.Skip(validationCount).Select(i => blocks[i]).ToArray();
        if (train.Length < TinyGpt2Recipe.BatchSize) throw new PeftException($"{data}: {train.Length} blocks of {TinyGpt2Recipe.BlockSize} tokens are too few to train on");

        using var model = AutoModel.FromPretrained(initDir);
        var lm = model as ILanguageModelHead ?? throw new PeftException($"{initDir}: {model.ArchitectureName} has no separable LM head");
        var embedding = model.InputEmbeddings.weight!;
        using var softmax = new CorpusSoftmax(train.SelectMany(b => b).Select(i => (int)i), (int)embedding.shape[0]);
        var parameters = model.named_parameters().Select(p => (p.name, p.parameter)).ToList();
        var groups = ParamGroups.Standard(model, parameters, TinyGpt2Recipe.LearningRate, TinyGpt2Recipe.WeightDecay);
        using var optimizer = new AdamW(groups, TinyGpt2Recipe.Beta1, TinyGpt2Recipe.Beta2);
        var schedule = new LearningRateSchedule("cosine", TinyGpt2Recipe.WarmupSteps, steps);
        var checkpoints = new Checkpoints(runDir, keepLast: 1);

        int start = 0;
        double seconds = 0;
        if (resume && checkpoints.Latest() is { } latest)
        {
            Checkpoints.RestoreWeights(latest, null, model);
            Checkpoints.RestoreOptimizer(latest, optimizer);
            var state = TrainerState.Read(Path.Combine(latest, Checkpoints.StateFile));
            if (state.Seed != seed) throw new PeftException($"{latest}: the run was made with seed {state.Seed}, not {seed}");
            (start, seconds) = (state.Step, state.TrainSeconds);
            log($"resumed from step {start:N0} ({latest})");
        }
        else
        {
            if (resume) throw new PeftException($"{runDir}: no checkpoint to resume; start without --resume");
            softmax.ZeroUnseenRows(embedding);
        }
        using var metrics = start > 0 ? MetricsLog.Resume(runDir, start) : MetricsLog.Create(runDir);
        log($"pretraining: {train.Length:N0} blocks for training, {validation.Length:N0} for validation, {softmax.Size:N0} of "
            + $"{embedding.shape[0]:N0} tokens in the corpus, {parameters.Sum(p => p.parameter.numel()):N0} parameters, {steps:N0} steps (from {start:N0})");

        var permutations = new Dictionary<int, int[]>();
        int[] EpochOrder(int epoch)
        {
            if (!permutations.TryGetValue(epoch, out var p))
            {
                permutations.Clear();
                permutations[epoch] = p = Permutation(train.Length, new Random(unchecked((int)(seed * 1_000_003 + epoch + 1))));
            }
            return p;
        }

        model.train();
        double trainLoss = double.NaN, validationLoss = double.NaN, windowLoss = 0;
        int windowSteps = 0;
        var clock = Stopwatch.StartNew();
        double windowStart = 0;
        int step = start;
        string checkpoint = checkpoints.Latest() ?? "";
        while (step < steps)
        {
            step++;
            long first = (long)(step - 1) * TinyGpt2Recipe.BatchSize;
            int epoch = (int)(first / train.Length);
            var batch = new long[TinyGpt2Recipe.BatchSize * TinyGpt2Recipe.BlockSize];
            for (int j = 0; j < TinyGpt2Recipe.BatchSize; j++)
            {
                long g = first + j;
                var block = train[EpochOrder((int)(g / train.Length))[g % train.Length]];
                for (int t = 0; t < block.Length; t++) batch[j * block.Length + t] = block[t];
            }
            double factor = schedule.Factor(step);
            foreach (var group in optimizer.Groups) group.LearningRate = group.BaseLearningRate * factor;
            double loss;
            using (NewDisposeScope())
            {
                var ids = tensor(batch).reshape(TinyGpt2Recipe.BatchSize, TinyGpt2Recipe.BlockSize);
                var l = BlockLoss(lm, softmax, embedding, ids);
                l.backward();
                loss = l.item<float>();
                nn.utils.clip_grad_norm_(parameters.Select(p => p.parameter), 1.0);
                optimizer.Step();
                optimizer.ZeroGrad();
            }
            windowLoss += loss;
            windowSteps++;
            if (step % TinyGpt2Recipe.LogEvery == 0 || step == steps)
            {
                double now = seconds + clock.Elapsed.TotalSeconds;
                trainLoss = windowLoss / windowSteps;
                double rate = windowSteps * (double)TinyGpt2Recipe.BatchSize * TinyGpt2Recipe.BlockSize / Math.Max(1e-9, clock.Elapsed.TotalSeconds - windowStart);
                metrics.Append(new StepRecord(step, epoch, trainLoss, optimizer.Groups[0].LearningRate, null, first + TinyGpt2Recipe.BatchSize, rate, now));
                log(string.Create(CultureInfo.InvariantCulture,
                    $"step {step:N0}/{steps:N0} epoch {epoch} loss {trainLoss:0.000} lr {optimizer.Groups[0].LearningRate:0.0e0} {rate:N0} tok/s {now / 60:F1} min"));
                (windowLoss, windowSteps, windowStart) = (0, 0, clock.Elapsed.TotalSeconds);
            }
            if (step % TinyGpt2Recipe.EvalEvery == 0 || step == steps)
            {
                validationLoss = Evaluate(model, lm, softmax, embedding, validation);
                metrics.Append(new EvalRecord(step, epoch, new Dictionary<string, double> { ["loss"] = validationLoss }, seconds + clock.Elapsed.TotalSeconds));
                log(string.Create(CultureInfo.InvariantCulture, $"eval at step {step:N0}: loss {validationLoss:0.000}"));
            }
            bool stop = step == stopAfter;
            if (step % TinyGpt2Recipe.SaveEvery == 0 || step == steps || stop)
            {
                var state = new TrainerState { Step = step, Epoch = epoch, Seed = seed, TotalSteps = steps, TokensSeen = first + TinyGpt2Recipe.BatchSize * TinyGpt2Recipe.BlockSize, TrainSeconds = seconds + clock.Elapsed.TotalSeconds };
                checkpoint = checkpoints.Save(state, null, model, optimizer, null);
            }
            if (stop) return new PretrainResult(step, true, trainLoss, validationLoss, seconds + clock.Elapsed.TotalSeconds, checkpoint, train.Length, validation.Length, softmax.Size) { Validation = validation };
        }
        // A resume of a finished run (to write the model again) takes no step: its figures come from the metrics log.
        var (stepLog, evaluations) = MetricsLog.Read(Path.Combine(runDir, MetricsLog.FileName));
        if (stepLog.Count > 0) (trainLoss, seconds) = (stepLog[^1].Loss, stepLog[^1].ElapsedSeconds);
        if (evaluations.Count > 0 && evaluations[^1].Metrics.TryGetValue("loss", out var v)) validationLoss = v;
        return new PretrainResult(step, false, trainLoss, validationLoss, seconds, checkpoint, train.Length, validation.Length, softmax.Size) { Validation = validation };
    }

    /// <summary>Mean next-token loss of a [batch, block] tensor of ids under <see cref="CorpusSoftmax"/>.</summary>
    public static Tensor BlockLoss(ILanguageModelHead lm, CorpusSoftmax softmax, Tensor embedding, Tensor ids)
    {
        var hidden = lm.ForwardHidden(new ModelInputs { InputIds = ids });
        var rows = hidden[.., ..^1].reshape(-1, hidden.shape[^1]);
        var targets = ids[.., 1..].reshape(-1);
        return softmax.SumLoss(rows, embedding, targets).div(targets.shape[0]);
    }

    private static double Evaluate(PretrainedModel model, ILanguageModelHead lm, CorpusSoftmax softmax, Tensor embedding, long[][] blocks)
    {
        model.eval();
        double sum = 0;
        using (no_grad())
            for (int i = 0; i < blocks.Length; i += TinyGpt2Recipe.BatchSize)
            {
                using var scope = NewDisposeScope();
                var chunk = blocks.Skip(i).Take(TinyGpt2Recipe.BatchSize).ToArray();
                var ids = tensor(chunk.SelectMany(b => b).ToArray()).reshape(chunk.Length, TinyGpt2Recipe.BlockSize);
                sum += BlockLoss(lm, softmax, embedding, ids).item<float>() * chunk.Length;
            }
        model.train();
        return sum / blocks.Length;
    }

    private static int[] Permutation(int n, Random random)
    {
        var p = Enumerable.Range(0, n).ToArray();
        random.Shuffle(p);
        return p;
    }
}
