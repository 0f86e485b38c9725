using System.Diagnostics;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tuners;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Trains an adapter (or, as a baseline, the whole model) on a task: gradient accumulation and clipping,
/// scheduled learning rate, evaluation, best-checkpoint tracking, early stopping, checkpoints that resume
/// exactly, and a clear stop on a non-finite loss. Every step runs in its own dispose scope.
/// </summary>
public sealed class Trainer(TrainingOptions options, ITrainerObserver? observer = null)
{
    private readonly ITrainerObserver _observer = observer ?? new NullObserver();

    private sealed class NullObserver : ITrainerObserver;

    public TrainingOptions Options => options;

    /// <summary>Runs the whole training: setup, the step loop with evaluations and checkpoints, then the adapter written.</summary>
    public TrainingSummary Run(CancellationToken cancellation = default)
    {
        using var run = TrainingRun.Create(options, _observer.OnMessage);
        var (state, before) = StartOrResume(run);
        _observer.OnStart(new TrainingPlan(run.Total, run.StepsPerEpoch, state.Step, run.Data.Train.Count, run.Data.Validation.Count,
            run.Report.Trainable, run.Report.All, run.Data.Labels?.ToString()));
        var loop = new Loop(state, secondsBefore: state.TrainSeconds);
        StepLoop(run, loop, cancellation);
        return Finish(run, loop, before);
    }

    /// <summary>What the step loop produces: where it got to, what it logged, why it stopped.</summary>
    private sealed class Loop(TrainerState state, double secondsBefore)
    {
        public TrainerState State = state;
        public readonly double SecondsBefore = secondsBefore;
        public readonly Stopwatch Clock = Stopwatch.StartNew();
        public readonly List<StepRecord> Steps = [];
        public readonly List<EvalRecord> Evaluations = [];
        public string StopReason = "finished";
        public bool Diverged;

        public double Elapsed => SecondsBefore + Clock.Elapsed.TotalSeconds;
    }

    /// <summary>A fresh start measures the untrained model; a resume restores weights, optimizer, RNG and data position.</summary>
    private (TrainerState State, IReadOnlyDictionary<string, double>? Before) StartOrResume(TrainingRun run)
    {
        var state = new TrainerState { Seed = options.Seed, OptionsFingerprint = run.Fingerprint };
        if (options.Resume && run.Checkpoints.Latest() is { } latest)
        {
            state = TrainerState.Read(Path.Combine(latest, Checkpoints.StateFile));
            if (state.OptionsFingerprint != run.Fingerprint)
                throw new PeftException($"{latest}: this checkpoint was made with different options (data, model, method or hyperparameters); resume with the same config");
            Checkpoints.RestoreWeights(latest, run.Peft, run.Model);
            Checkpoints.RestoreOptimizer(latest, run.Optimizer);
            run.Loader.Seek(state.Position);
            _observer.OnMessage($"resumed from {latest} (step {state.Step}, {state.Position})");
            return (state, null);
        }
        var before = run.Evaluate();
        _observer.OnEvaluation(new EvalRecord(0, 0, before, 0));
        return (state, before);
    }

    /// <summary>Optimizer steps until the total, early stopping, divergence or cancellation; evaluates and checkpoints as due.</summary>
    private void StepLoop(TrainingRun run, Loop loop, CancellationToken cancellation)
    {
        var o = options;
        run.Model.train();
        var parameters = run.Trainable.Select(p => p.Parameter).ToList();
        while (loop.State.Step < run.Total)
        {
            if (cancellation.IsCancellationRequested) { loop.StopReason = "interrupted"; break; }
            int epochAtStart = run.Loader.Position.Epoch;
            var (loss, tokens, gradNorm, finite) = OptimizerStep(run, parameters, loop.State.Step);
            if (!finite)
            {
                loop.StopReason = $"stopped at step {loop.State.Step + 1}: the loss became {(double.IsFinite(loss) ? "finite but the gradient norm is not" : loss.ToString(System.Globalization.CultureInfo.InvariantCulture))}; " +
                                  $"try a lower learning rate. The last good checkpoint is {run.Checkpoints.Latest() ?? "(none yet)"}";
                _observer.OnMessage(loop.StopReason);
                loop.Diverged = true;
                break;
            }
            var elapsed = loop.Elapsed;
            loop.State = loop.State with
            {
                Step = loop.State.Step + 1, Epoch = run.Loader.Position.Epoch, Batch = run.Loader.Position.Batch,
                TokensSeen = loop.State.TokensSeen + tokens, TrainSeconds = elapsed,
            };
            var record = new StepRecord(loop.State.Step, epochAtStart, loss, run.Optimizer.Groups[0].LearningRate, gradNorm, tokens,
                loop.State.TokensSeen / Math.Max(1e-9, elapsed), elapsed);
            loop.Steps.Add(record);
            _observer.OnStep(record);

            int step = loop.State.Step;
            bool epochEnded = run.Loader.Position.Epoch != epochAtStart;
            bool evalDue = step == run.Total || (o.EvalEvery > 0 ? step % o.EvalEvery == 0 : epochEnded);
            bool saveDue = evalDue ? o.SaveEvery == 0 || step % o.SaveEvery == 0 || step == run.Total : o.SaveEvery > 0 && step % o.SaveEvery == 0;
            bool stop = evalDue && EvaluateAndCheckPatience(run, loop, epochAtStart);
            if (saveDue || stop) run.Checkpoints.Save(loop.State, run.Peft, run.Model, run.Optimizer, loop.State.BestStep);
            if (stop) break;
        }
        if (loop.StopReason == "interrupted" && loop.State.Step > 0) run.Checkpoints.Save(loop.State, run.Peft, run.Model, run.Optimizer, loop.State.BestStep);
    }

    /// <summary>One optimizer step over gradient_accumulation micro-batches, each in its own dispose scope; skipped when not finite.</summary>
    private (double Loss, long Tokens, double? GradNorm, bool Finite) OptimizerStep(TrainingRun run, List<TorchSharp.Modules.Parameter> parameters, int step)
    {
        var o = options;
        double loss = 0;
        long tokens = 0;
        for (int micro = 0; micro < o.GradientAccumulation; micro++)
        {
            using var scope = NewDisposeScope();
            var batch = run.Loader.Next();
            var tensors = batch.ToTensors(run.Device);
            loss += TrainingStep.ForwardBackward(run.Model, run.Kind, tensors, 1.0 / o.GradientAccumulation, checkpointLayers: o.GradientCheckpointing) / o.GradientAccumulation;
            tokens += batch.TokenCount;
        }
        using (NewDisposeScope())
        {
            double? gradNorm = o.MaxGradNorm > 0 ? nn.utils.clip_grad_norm_(parameters, o.MaxGradNorm) : null;
            bool finite = double.IsFinite(loss) && (gradNorm is not { } g || double.IsFinite(g));
            if (finite)
            {
                double factor = run.Schedule.Factor(step);
                foreach (var group in run.Optimizer.Groups) group.LearningRate = group.BaseLearningRate * factor;
                run.Optimizer.Step();
            }
            run.Optimizer.ZeroGrad();
            return (loss, tokens, gradNorm, finite);
        }
    }

    /// <summary>Evaluates, tracks the best metric, and says whether early stopping's patience ran out.</summary>
    private bool EvaluateAndCheckPatience(TrainingRun run, Loop loop, int epoch)
    {
        var o = options;
        var metrics = run.Evaluate();
        var eval = new EvalRecord(loop.State.Step, epoch, metrics, loop.Elapsed);
        loop.Evaluations.Add(eval);
        _observer.OnEvaluation(eval);
        if (!metrics.TryGetValue(run.Metric, out var value))
            throw new PeftException($"metric_for_best \"{run.Metric}\" is not computed for this task (have: {string.Join(", ", metrics.Keys)})");
        bool improved = loop.State.BestMetric is not { } best
            || (run.HigherIsBetter ? value > best + o.EarlyStoppingThreshold : value < best - o.EarlyStoppingThreshold);
        loop.State = improved
            ? loop.State with { BestMetric = value, BestStep = loop.State.Step, EvalsWithoutImprovement = 0 }
            : loop.State with { EvalsWithoutImprovement = loop.State.EvalsWithoutImprovement + 1 };
        run.Model.train();
        if (o.EarlyStoppingPatience > 0 && loop.State.EvalsWithoutImprovement >= o.EarlyStoppingPatience)
        {
            loop.StopReason = $"early stopping: {run.Metric} did not improve for {o.EarlyStoppingPatience} evaluations";
            return true;
        }
        return false;
    }

    /// <summary>
    /// Hands over the best weights on validation when a checkpoint of them exists (after a divergence the current
    /// weights are not finite, so the newest good checkpoint stands in), writes the adapter, and sums up.
    /// </summary>
    private TrainingSummary Finish(TrainingRun run, Loop loop, IReadOnlyDictionary<string, double>? before)
    {
        var o = options;
        var state = loop.State;
        var adapterDir = Path.Combine(o.Output, "adapter");
        string? bestDir = state.BestStep is { } b && Directory.Exists(Path.Combine(run.Checkpoints.Root, $"step-{b}")) ? Path.Combine(run.Checkpoints.Root, $"step-{b}") : null;
        string? restoreFrom = loop.Diverged ? bestDir ?? run.Checkpoints.Latest() : state.BestStep != state.Step ? bestDir : null;
        // Peak memory is read when the summary is made, after the adapter is written, as the run's last word.
        TrainingSummary Summary() => new()
        {
            OutputDir = Path.GetFullPath(o.Output), AdapterDir = "", Steps = state.Step, TrainSeconds = state.TrainSeconds,
            TrainableParameters = run.Report.Trainable, AllParameters = run.Report.All, PeakRssGiB = Reporting.PeakMemory.PeakGiB(), Before = before,
            StopReason = loop.StopReason, DataSplit = run.Data.SplitDescription, StepLog = loop.Steps, Evaluations = loop.Evaluations,
        };
        if (loop.Diverged && restoreFrom == null) return Summary();

        int weightsStep = state.Step;
        if (restoreFrom != null)
        {
            Checkpoints.RestoreWeights(restoreFrom, run.Peft, run.Model);
            weightsStep = TrainerState.Read(Path.Combine(restoreFrom, Checkpoints.StateFile)).Step;
        }
        if (run.Peft != null) SaveAdapterAtomically(run.Peft, adapterDir, TaskInfo.For(run.Options, run.Data));
        // "after" always describes the weights written: the evaluation made at their step, or a fresh one.
        var after = loop.Evaluations.FirstOrDefault(e => e.Step == weightsStep)?.Metrics ?? run.Evaluate();
        return Summary() with
        {
            AdapterDir = run.Peft != null ? Path.GetFullPath(adapterDir) : "",
            BestCheckpoint = bestDir,
            After = after,
        };
    }

    private static void SaveAdapterAtomically(PeftModel peft, string dir, TaskInfo info)
    {
        // Portable: for the original base model (checkpoints keep the as-trained form a resume needs).
        AtomicFolder.Write(dir, temp => { peft.Save(temp, form: AdapterSaveForm.Portable); info.Write(temp); }, overwrite: true);
    }
}
