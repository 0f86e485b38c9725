using PeftSharp.Training.Analysis;
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
/// exactly, and a clear stop on a non-finite loss. Every step runs in its own dispose scope. A method's own training
/// work (<see cref="IAdapterTraining"/>: a loss term, work after each optimizer step) is called through the adapter.
/// </summary>
public sealed class Trainer(TrainingOptions options, ITrainerObserver? observer = null)
{
    private readonly ITrainerObserver _observer = observer ?? new NullObserver();

    private sealed class NullObserver : ITrainerObserver;

    public TrainingOptions Options => options;

    /// <summary>
    /// Runs the whole training: setup, the resume checks, the step loop with evaluations and checkpoints, then the
    /// adapter written. <see cref="ITrainerObserver.OnStart"/> comes once the options are accepted; before it, nothing
    /// is written into the run folder. A cancelled <paramref name="cancellation"/> (Ctrl-C) stops after the step or
    /// evaluation batch under way, writes a checkpoint and a partial adapter, and returns an interrupted summary.
    /// </summary>
    public TrainingSummary Run(CancellationToken cancellation = default)
    {
        using var run = TrainingRun.Create(options, _observer.OnMessage);
        var resumed = CheckResume(run);
        if (resumed is { } r && AlreadyFinished(run, r.State)) return NothingLeft(run, r.State, r.Checkpoint);
        if (resumed is { } from) Restore(run, from.Checkpoint, from.State);
        var state = (resumed?.State ?? new TrainerState { Seed = options.Seed }) with
        {
            OptionsFingerprint = run.Fingerprint, Options = run.RecordedOptions, TotalSteps = run.Total,
        };
        if (run.ChosenTargets is { } auto)
        {
            Directory.CreateDirectory(run.Options.Output);
            auto.Write(Path.Combine(run.Options.Output, AutoTargetPlan.FileName));
        }
        if (run.ChosenLayerGroups is { } layers)
        {
            Directory.CreateDirectory(run.Options.Output);
            layers.Write(Path.Combine(run.Options.Output, LayerGroupPlan.FileName));
        }
        _observer.OnStart(new TrainingPlan(run.Total, run.StepsPerEpoch, state.Step, run.Data.Train.Count, run.Data.Validation.Count,
            run.Report.Trainable, run.Report.All, run.Data.Labels?.ToString()));
        run.Forgetting?.Begin(run.Options.Output, resumed != null, run.Peft, _observer.OnMessage);
        run.Retention.Begin(run.Options.Output, resumed != null, run.Model, run.Collator, run.Device, _observer.OnMessage);
        var loop = new Loop(state, secondsBefore: state.TrainSeconds);
        IReadOnlyDictionary<string, double>? before = null;
        try
        {
            if (resumed == null)
            {
                before = run.Evaluate(cancellation);
                _observer.OnEvaluation(new EvalRecord(0, 0, before, 0));
            }
            else if (state.PendingEvaluationEpoch is { } epoch)
            {
                // Ctrl-C cut this step's evaluation: run it now, as the uninterrupted run did, and record it in the checkpoint.
                bool stop = EvaluateAndCheckPatience(run, loop, epoch, cancellation);
                Save(run, loop, offSchedule: state.OffSchedule);
                if (stop) return Finish(run, loop, before);
            }
            StepLoop(run, loop, cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            loop.StopReason = Interrupted;
        }
        if (loop.StopReason == Interrupted && loop.State.Step > 0 && loop.SavedStep != loop.State.Step) Save(run, loop, offSchedule: !loop.SaveDue);
        return Finish(run, loop, before);
    }

    private const string Interrupted = "interrupted";

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
        /// <summary>The step of the checkpoint written last, so an interruption right after one does not write it twice.</summary>
        public int SavedStep = -1;
        /// <summary>Whether the schedule saves a checkpoint at the step last taken (an interruption's checkpoint there is on schedule).</summary>
        public bool SaveDue;

        public double Elapsed => SecondsBefore + Clock.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// With <c>resume</c> and a checkpoint, the state to continue from, once its recorded options and the new length are
    /// accepted (<see cref="ResumeRules"/>); null for a fresh start. Reads only: a refusal changes nothing.
    /// </summary>
    private (TrainerState State, string Checkpoint)? CheckResume(TrainingRun run)
    {
        if (!options.Resume || run.Checkpoints.Latest() is not { } latest) return null;
        var state = TrainerState.Read(Path.Combine(latest, Checkpoints.StateFile));
        if (state.Options is { } recorded) ResumeRules.CheckOptions(latest, recorded, run.Options); // resolved: an inferred task compares as the task it became
        else if (state.OptionsFingerprint != run.Fingerprint)
            throw new PeftException($"{latest}: this checkpoint was made with different options (data, model, method or hyperparameters); resume with the same config");
        ResumeRules.CheckLength(options.Output, state.Step, run.Total, run.StepsPerEpoch, options);
        return (state, latest);
    }

    /// <summary>Puts back weights, optimizer, RNG and data position.</summary>
    private void Restore(TrainingRun run, string checkpoint, TrainerState state)
    {
        Checkpoints.RestoreWeights(checkpoint, run.Peft, run.Model);
        Checkpoints.RestoreOptimizer(checkpoint, run.Optimizer);
        run.Loader.Seek(state.Position);
        _observer.OnMessage($"resumed from {checkpoint} (step {state.Step}, {state.Position})");
    }

    /// <summary>
    /// Whether the run ended at this checkpoint (its final state, written after the adapter, is this step) and the
    /// resume asks for no more steps than it then had: there is nothing left to do.
    /// </summary>
    private bool AlreadyFinished(TrainingRun run, TrainerState latest)
    {
        var path = Path.Combine(options.Output, Checkpoints.StateFile);
        if (!File.Exists(path)) return false;
        var final = TrainerState.Read(path);
        return final.Step == latest.Step && (run.Total == latest.Step || run.Total == final.TotalSteps);
    }

    private TrainingSummary NothingLeft(TrainingRun run, TrainerState state, string checkpoint)
    {
        var adapter = Path.GetFullPath(Path.Combine(options.Output, "adapter"));
        return new TrainingSummary
        {
            OutputDir = Path.GetFullPath(options.Output), AdapterDir = run.Peft != null && Directory.Exists(adapter) ? adapter : "",
            Steps = state.Step, TotalSteps = run.Total, TrainSeconds = state.TrainSeconds, TrainableParameters = run.Report.Trainable,
            AllParameters = run.Report.All, AlreadyFinished = true, Checkpoint = checkpoint, DataSplit = run.Data.SplitDescription,
            StopReason = $"already finished at step {state.Step:N0}; nothing was trained and nothing changed (give more epochs or max_steps to train further)",
        };
    }

    private void Save(TrainingRun run, Loop loop, bool offSchedule = false)
    {
        run.Checkpoints.Save(loop.State with { OffSchedule = offSchedule }, run.Peft, run.Model, run.Optimizer, loop.State.BestStep);
        loop.SavedStep = loop.State.Step;
    }

    /// <summary>
    /// Optimizer steps until the total, early stopping, divergence or cancellation; evaluates and checkpoints as due.
    /// Cancellation is seen between steps, and inside an evaluation between batches (an OperationCanceledException,
    /// with the state marking that evaluation as still to do).
    /// </summary>
    private void StepLoop(TrainingRun run, Loop loop, CancellationToken cancellation)
    {
        var o = options;
        run.Model.train();
        var parameters = run.Trainable.Select(p => p.Parameter).ToList();
        while (loop.State.Step < run.Total)
        {
            if (cancellation.IsCancellationRequested) { loop.StopReason = Interrupted; break; }
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
            loop.SaveDue = saveDue;
            bool stop = false;
            if (evalDue)
            {
                loop.State = loop.State with { PendingEvaluationEpoch = epochAtStart };
                stop = EvaluateAndCheckPatience(run, loop, epochAtStart, cancellation);
            }
            if (saveDue || stop) Save(run, loop);
            if (stop) break;
        }
    }

    /// <summary>One optimizer step over gradient_accumulation micro-batches, each in its own dispose scope; skipped when not finite.</summary>
    private (double Loss, long Tokens, double? GradNorm, bool Finite) OptimizerStep(TrainingRun run, List<TorchSharp.Modules.Parameter> parameters, int step)
    {
        var o = options;
        var method = run.Peft?.Training;
        var scaler = run.Optimizer.Scaler; // float16: gradients of the loss times its scale (see LossScaler)
        double lossScale = scaler?.Scale ?? 1;
        double loss = 0;
        long tokens = 0;
        for (int micro = 0; micro < o.GradientAccumulation; micro++)
        {
            using var scope = NewDisposeScope();
            var batch = run.Loader.Next();
            var tensors = batch.ToTensors(run.Device);
            loss += TrainingStep.ForwardBackward(run.Model, run.Kind, tensors, lossScale / o.GradientAccumulation, checkpointLayers: o.GradientCheckpointing) / o.GradientAccumulation;
            if (method?.ExtraLoss() is { } extra)
            {
                extra.mul(lossScale / o.GradientAccumulation).backward();
                loss += extra.item<float>() / o.GradientAccumulation;
            }
            tokens += batch.TokenCount;
        }
        using (NewDisposeScope())
        {
            double? gradNorm;
            double clip = 1;
            if (scaler != null)
            {
                // float16: the norm of the unscaled gradient in float32 (float16 would overflow squaring scaled values);
                // clipping then happens in the optimizer's float32 unscaling, with torch's coefficient.
                double norm = UnscaledNorm(parameters, lossScale);
                if (double.IsFinite(loss) && !double.IsFinite(norm))
                {
                    // The scaled gradients overflowed float16: skip this update, halve the scale; the step still counts.
                    scaler.Overflowed();
                    _observer.OnMessage($"step {step + 1}: float16 gradients overflowed at loss scale {lossScale:G}; update skipped, scale now {scaler.Scale:G}");
                    run.Optimizer.ZeroGrad();
                    return (loss, tokens, null, true);
                }
                gradNorm = o.MaxGradNorm > 0 ? norm : null;
                if (o.MaxGradNorm > 0) clip = Math.Min(1, o.MaxGradNorm / (norm + 1e-6));
            }
            else
            {
                gradNorm = o.MaxGradNorm > 0 ? nn.utils.clip_grad_norm_(parameters, o.MaxGradNorm) : null;
            }
            bool finite = double.IsFinite(loss) && (gradNorm is not { } g || double.IsFinite(g));
            if (finite)
            {
                double factor = run.Schedule.Factor(step);
                foreach (var group in run.Optimizer.Groups) group.LearningRate = group.BaseLearningRate * factor;
                run.Optimizer.Step(clip);
                scaler?.Stepped();
                method?.AfterOptimizerStep(step); // once per optimizer step, with the accumulated gradients
            }
            run.Optimizer.ZeroGrad();
            return (loss, tokens, gradNorm, finite);
        }
    }

    /// <summary>‖g‖₂ / scale over all gradients, summed in float64 from float32 squares; infinite if any overflowed.</summary>
    private static double UnscaledNorm(List<TorchSharp.Modules.Parameter> parameters, double scale)
    {
        using var scope = NewDisposeScope();
        double sum = parameters.Where(p => p.grad is not null).Sum(p => p.grad!.to(ScalarType.Float32).square().sum().to(ScalarType.Float64).item<double>());
        return Math.Sqrt(sum) / scale;
    }

    /// <summary>Evaluates, tracks the best metric, and says whether early stopping's patience ran out.</summary>
    private bool EvaluateAndCheckPatience(TrainingRun run, Loop loop, int epoch, CancellationToken cancellation)
    {
        var o = options;
        var metrics = run.Evaluate(cancellation);
        var eval = new EvalRecord(loop.State.Step, epoch, metrics, loop.Elapsed);
        loop.Evaluations.Add(eval);
        _observer.OnEvaluation(eval);
        if (!metrics.TryGetValue(run.Metric, out var value))
            throw new PeftException($"metric_for_best \"{run.Metric}\" is not computed for this task (have: {string.Join(", ", metrics.Keys)})");
        bool improved = loop.State.BestMetric is not { } best
            || (run.HigherIsBetter ? value > best + o.EarlyStoppingThreshold : value < best - o.EarlyStoppingThreshold);
        loop.State = (improved
            ? loop.State with { BestMetric = value, BestStep = loop.State.Step, EvalsWithoutImprovement = 0 }
            : loop.State with { EvalsWithoutImprovement = loop.State.EvalsWithoutImprovement + 1 }) with { PendingEvaluationEpoch = null };
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
    /// weights are not finite, so the newest good checkpoint stands in), writes the adapter, and sums up. A run that
    /// ended writes its final state into the run folder (after the adapter), which tells a later resume it is done. An
    /// interrupted run gets a partial adapter only if it trained at all, and no fresh evaluation: it should stop now.
    /// </summary>
    private TrainingSummary Finish(TrainingRun run, Loop loop, IReadOnlyDictionary<string, double>? before)
    {
        var o = options;
        var state = loop.State;
        bool interrupted = loop.StopReason == Interrupted;
        var adapterDir = Path.Combine(o.Output, "adapter");
        string? bestDir = state.BestStep is { } b && Path.Combine(run.Checkpoints.Root, $"step-{b}") is var dir && IsScheduledCheckpoint(dir) ? dir : null;
        string? restoreFrom = loop.Diverged ? bestDir ?? run.Checkpoints.Latest() : state.BestStep != state.Step ? bestDir : null;
        // Peak memory is read when the summary is made, after the adapter is written, as the run's last word.
        TrainingSummary Summary() => new()
        {
            OutputDir = Path.GetFullPath(o.Output), AdapterDir = "", Steps = state.Step, TotalSteps = run.Total, TrainSeconds = state.TrainSeconds,
            TrainableParameters = run.Report.Trainable, AllParameters = run.Report.All, PeakRssGiB = Reporting.PeakMemory.PeakGiB(), Before = before,
            StopReason = loop.StopReason, DataSplit = run.Data.SplitDescription, StepLog = loop.Steps, Evaluations = loop.Evaluations,
            Interrupted = interrupted, Checkpoint = run.Checkpoints.Latest(), Skipped = run.Data.Issues.Issues,
        };
        if (loop.Diverged && restoreFrom == null || interrupted && state.Step == 0) return Summary();

        int weightsStep = state.Step;
        if (restoreFrom != null)
        {
            Checkpoints.RestoreWeights(restoreFrom, run.Peft, run.Model);
            weightsStep = TrainerState.Read(Path.Combine(restoreFrom, Checkpoints.StateFile)).Step;
        }
        if (run.Peft != null) SaveAdapterAtomically(run, adapterDir);
        // "after" always describes the weights written: the evaluation made at their step, or a fresh one (not when interrupted).
        var after = loop.Evaluations.FirstOrDefault(e => e.Step == weightsStep)?.Metrics ?? (interrupted ? null : run.Evaluate());
        if (!interrupted && !loop.Diverged)
        {
            Directory.CreateDirectory(o.Output);
            AtomicFile.WriteAllText(Path.Combine(o.Output, Checkpoints.StateFile), state.ToJson());
        }
        var retained = interrupted ? [] : run.Retention.Compare(run.Model, run.Collator, run.Device);
        if (retained.Count > 0) _observer.OnRetention(retained);
        return Summary() with
        {
            Retention = retained, ForgettingMeasure = run.Forgetting?.Description,
            AdapterDir = run.Peft != null ? Path.GetFullPath(adapterDir) : "",
            AdapterStep = weightsStep, AdapterIsBest = state.BestStep == weightsStep,
            BestCheckpoint = bestDir,
            After = after,
        };
    }

    /// <summary>A checkpoint the run's schedule wrote (not one only an interruption did), so it may stand for the best weights.</summary>
    private static bool IsScheduledCheckpoint(string dir)
    {
        var path = Path.Combine(dir, Checkpoints.StateFile);
        return File.Exists(path) && !TrainerState.Read(path).OffSchedule;
    }

    private static void SaveAdapterAtomically(TrainingRun run, string dir)
    {
        var info = TaskInfo.For(run.Options, run.Data);
        // Portable: for the original base model (checkpoints keep the as-trained form a resume needs). The earlier rounds'
        // sets and this run's validation set go with it, for the next round to check.
        AtomicFolder.Write(dir, temp =>
        {
            run.Peft!.Save(temp, form: AdapterSaveForm.Portable);
            info.Write(temp);
            Rounds.RetentionSets.Record(temp, run.Retention.All, run.Data.ValidationRecords);
        }, overwrite: true);
    }
}
