using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using PeftSharp.Data;
using PeftSharp.IO;
using PeftSharp.IO.Safetensors;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using PeftSharp.Tuners;
using PeftSharp.Tuners.Lora;
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

    public TrainingSummary Run(CancellationToken cancellation = default)
    {
        var o = options;
        if (o.Threads > 0) set_num_threads(o.Threads);
        if (o.LowMemory && !Native.Allocator.ReturnLargeBlocksToSystem()) _observer.OnMessage("low_memory: not available on this system; ignored");
        var device = Devices.Parse(o.Device);
        if (string.IsNullOrEmpty(o.Output)) throw new PeftException("no output folder: set output (--output)");
        Directory.CreateDirectory(o.Output);
        manual_seed(o.Seed);

        var tokenizer = AutoTokenizer.FromFolder(o.Model);
        var data = TrainingData.Build(o, tokenizer, _observer.OnMessage);
        using var model = data.Task.Kind == TaskKind.SequenceClassification
            ? AutoModel.ForSequenceClassification(o.Model, data.Labels!.Count, o.Pooling, device, log: _observer.OnMessage)
            : AutoModel.FromPretrained(o.Model, device);
        manual_seed(o.Seed);
        var peft = Adapt(model, data.Task.Kind);

        var collatorOptions = new CollatorOptions
        {
            DecoderStartTokenId = model is IEncoderDecoder ed ? ed.DecoderStartTokenId : null,
        };
        var collator = Collator.For(tokenizer, collatorOptions);
        var loader = new DataLoader(data.Train, collator, o.BatchSize, o.Seed);
        var validation = new DataLoader(data.Validation, collator, o.BatchSize, o.Seed, shuffle: false);
        int stepsPerEpoch = (loader.BatchesPerEpoch + o.GradientAccumulation - 1) / o.GradientAccumulation;
        int total = o.MaxSteps ?? stepsPerEpoch * o.Epochs;
        int warmup = o.WarmupSteps > 0 ? o.WarmupSteps : (int)Math.Ceiling(o.WarmupRatio * total);
        var schedule = new LearningRateSchedule(o.Scheduler, warmup, total);
        var trainable = peft?.TrainableNamedParameters().ToList() ?? model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        using var optimizer = CreateOptimizer(model, peft, trainable);
        var checkpoints = new Checkpoints(o.Output, o.KeepLast);
        string metric = o.MetricForBest == "auto" ? Evaluator.DefaultMetric(data.Task.Kind) : o.MetricForBest;
        bool higher = Evaluator.HigherIsBetter(metric);
        var fingerprint = Fingerprint(o);

        var state = new TrainerState { Seed = o.Seed, OptionsFingerprint = fingerprint };
        IReadOnlyDictionary<string, double>? before = null;
        if (o.Resume && checkpoints.Latest() is { } latest)
        {
            state = TrainerState.Read(Path.Combine(latest, Checkpoints.StateFile));
            if (state.OptionsFingerprint != fingerprint)
                throw new PeftException($"{latest}: this checkpoint was made with different options (data, model, method or hyperparameters); resume with the same config");
            Checkpoints.RestoreWeights(latest, peft, model);
            Checkpoints.RestoreOptimizer(latest, optimizer);
            loader.Seek(state.Position);
            _observer.OnMessage($"resumed from {latest} (step {state.Step}, {state.Position})");
        }
        else
        {
            before = Evaluator.Evaluate(model, data.Task.Kind, validation.Epoch(0), device);
            _observer.OnEvaluation(new EvalRecord(0, 0, before, 0));
        }

        var report = peft?.TrainableParameters() ?? new TrainableReport(trainable.Sum(p => p.Parameter.numel()), model.parameters().Sum(p => p.numel()));
        _observer.OnStart(new TrainingPlan(total, stepsPerEpoch, state.Step, data.Train.Count, data.Validation.Count, report.Trainable, report.All, data.Labels?.ToString()));

        var steps = new List<StepRecord>();
        var evals = new List<EvalRecord>();
        var clock = Stopwatch.StartNew();
        double secondsBefore = state.TrainSeconds;
        string stopReason = "finished";
        bool diverged = false;
        string? bestCheckpoint = state.BestStep is { } bs ? Path.Combine(checkpoints.Root, $"step-{bs}") : null;
        model.train();
        var parameters = trainable.Select(p => p.Parameter).ToList();

        while (state.Step < total)
        {
            if (cancellation.IsCancellationRequested) { stopReason = "interrupted"; break; }
            int epochAtStart = loader.Position.Epoch;
            double loss = 0;
            long tokens = 0;
            for (int micro = 0; micro < o.GradientAccumulation; micro++)
            {
                using var scope = NewDisposeScope();
                var batch = loader.Next();
                var tensors = batch.ToTensors(device);
                loss += TrainingStep.ForwardBackward(model, data.Task.Kind, tensors, 1.0 / o.GradientAccumulation, checkpointLayers: o.GradientCheckpointing) / o.GradientAccumulation;
                tokens += batch.TokenCount;
            }
            double? gradNorm = null;
            bool finite;
            using (NewDisposeScope())
            {
                if (o.MaxGradNorm > 0) gradNorm = nn.utils.clip_grad_norm_(parameters, o.MaxGradNorm);
                finite = double.IsFinite(loss) && (gradNorm is not { } g || double.IsFinite(g));
                if (finite)
                {
                    double factor = schedule.Factor(state.Step);
                    foreach (var group in optimizer.Groups) group.LearningRate = group.BaseLearningRate * factor;
                    optimizer.Step();
                }
                optimizer.ZeroGrad();
            }
            if (!finite)
            {
                stopReason = $"stopped at step {state.Step + 1}: the loss became {(double.IsFinite(loss) ? "finite but the gradient norm is not" : loss.ToString(System.Globalization.CultureInfo.InvariantCulture))}; " +
                             $"try a lower learning rate. The last good checkpoint is {checkpoints.Latest() ?? "(none yet)"}";
                _observer.OnMessage(stopReason);
                diverged = true;
                break;
            }
            var elapsed = secondsBefore + clock.Elapsed.TotalSeconds;
            state = state with
            {
                Step = state.Step + 1, Epoch = loader.Position.Epoch, Batch = loader.Position.Batch,
                TokensSeen = state.TokensSeen + tokens, TrainSeconds = elapsed,
            };
            var record = new StepRecord(state.Step, epochAtStart, loss, optimizer.Groups[0].LearningRate, gradNorm, tokens,
                state.TokensSeen / Math.Max(1e-9, elapsed), elapsed);
            steps.Add(record);
            _observer.OnStep(record);

            bool epochEnded = loader.Position.Epoch != epochAtStart;
            bool evalDue = state.Step == total || (o.EvalEvery > 0 ? state.Step % o.EvalEvery == 0 : epochEnded);
            bool saveDue = evalDue ? o.SaveEvery == 0 || state.Step % o.SaveEvery == 0 || state.Step == total : o.SaveEvery > 0 && state.Step % o.SaveEvery == 0;
            bool stop = false;
            if (evalDue)
            {
                var metrics = Evaluator.Evaluate(model, data.Task.Kind, validation.Epoch(0), device);
                var eval = new EvalRecord(state.Step, epochAtStart, metrics, secondsBefore + clock.Elapsed.TotalSeconds);
                evals.Add(eval);
                _observer.OnEvaluation(eval);
                if (!metrics.TryGetValue(metric, out var value)) throw new PeftException($"metric_for_best \"{metric}\" is not computed for this task (have: {string.Join(", ", metrics.Keys)})");
                bool improved = state.BestMetric is not { } best || (higher ? value > best + o.EarlyStoppingThreshold : value < best - o.EarlyStoppingThreshold);
                state = improved
                    ? state with { BestMetric = value, BestStep = state.Step, EvalsWithoutImprovement = 0 }
                    : state with { EvalsWithoutImprovement = state.EvalsWithoutImprovement + 1 };
                if (o.EarlyStoppingPatience > 0 && state.EvalsWithoutImprovement >= o.EarlyStoppingPatience)
                {
                    stopReason = $"early stopping: {metric} did not improve for {o.EarlyStoppingPatience} evaluations";
                    stop = true;
                }
                model.train();
            }
            if (saveDue || stop)
            {
                var dir = checkpoints.Save(state, peft, model, optimizer, state.BestStep);
                if (state.BestStep == state.Step) bestCheckpoint = dir;
            }
            if (stop) break;
        }
        if (stopReason == "interrupted" && state.Step > 0) checkpoints.Save(state, peft, model, optimizer, state.BestStep);

        // The weights we hand over are the best on validation when a checkpoint of them exists; after a
        // divergence the current weights are not finite, so the newest good checkpoint stands in for them.
        var adapterDir = Path.Combine(o.Output, "adapter");
        string? bestDir = state.BestStep is { } b && Directory.Exists(Path.Combine(checkpoints.Root, $"step-{b}")) ? Path.Combine(checkpoints.Root, $"step-{b}") : null;
        string? restoreFrom = diverged ? bestDir ?? checkpoints.Latest() : state.BestStep != state.Step ? bestDir : null;
        if (diverged && restoreFrom == null)
        {
            return new TrainingSummary
            {
                OutputDir = Path.GetFullPath(o.Output), AdapterDir = "", Steps = state.Step, TrainSeconds = state.TrainSeconds,
                TrainableParameters = report.Trainable, AllParameters = report.All, PeakRssGiB = Reporting.PeakMemory.PeakGiB(), Before = before,
                StopReason = stopReason, DataSplit = data.SplitDescription, StepLog = steps, Evaluations = evals,
            };
        }
        int weightsStep = state.Step;
        if (restoreFrom != null)
        {
            Checkpoints.RestoreWeights(restoreFrom, peft, model);
            weightsStep = TrainerState.Read(Path.Combine(restoreFrom, Checkpoints.StateFile)).Step;
        }
        if (peft != null) SaveAdapterAtomically(peft, adapterDir, new TaskInfo(o.Task, data.Labels?.Names, o.Pooling, o.MaxLength));
        // "after" always describes the weights written: the evaluation made at their step, or a fresh one.
        var after = evals.FirstOrDefault(e => e.Step == weightsStep)?.Metrics
            ?? Evaluator.Evaluate(model, data.Task.Kind, validation.Epoch(0), device);
        bestCheckpoint = bestDir;

        return new TrainingSummary
        {
            OutputDir = Path.GetFullPath(o.Output),
            AdapterDir = peft != null ? Path.GetFullPath(adapterDir) : "",
            BestCheckpoint = bestCheckpoint,
            Steps = state.Step,
            TrainSeconds = state.TrainSeconds,
            TrainableParameters = report.Trainable,
            AllParameters = report.All,
            PeakRssGiB = Reporting.PeakMemory.PeakGiB(),
            Before = before,
            After = after,
            StopReason = stopReason,
            DataSplit = data.SplitDescription,
            StepLog = steps,
            Evaluations = evals,
        };
    }

    private PeftModel? Adapt(PretrainedModel model, TaskKind kind)
    {
        var o = options;
        if (o.Method is "full" or "head")
        {
            var head = model.OutputHeadName + ".";
            foreach (var (name, p) in model.named_parameters())
                p.requires_grad = o.Method == "full" || name.StartsWith(head, StringComparison.Ordinal);
            return null;
        }
        if (o.Method is not ("lora" or "ia3" or "loha" or "lokr" or "vera"))
            throw new PeftException($"method \"{o.Method}\" is not available for training (lora, ia3, loha, lokr, vera, full, head)");
        if (o.FromAdapter != null)
        {
            _observer.OnMessage($"continuing adapter {o.FromAdapter}");
            var loaded = PeftModel.Load(model, o.FromAdapter, trainable: true);
            foreach (var w in loaded.Warnings) _observer.OnMessage(w);
            return loaded;
        }
        var taskType = kind switch
        {
            TaskKind.SequenceClassification => "SEQ_CLS",
            TaskKind.Seq2SeqLm => "SEQ_2_SEQ_LM",
            _ => "CAUSAL_LM",
        };
        var targets = o.TargetModules switch
        {
            null => new TargetSpec(),
            [var single] when single == TargetSpec.AllLinear || single.IndexOfAny(['*', '(', '[', '\\', '^', '$', '|']) >= 0 => new TargetSpec { TargetRegex = single },
            var list => new TargetSpec { TargetList = list },
        };
        // The other methods take the same rank, alpha and dropout options as LoRA where they have them.
        PeftConfig? other = o.Method switch
        {
            "ia3" => new Tuners.IA3.IA3Config { Targets = targets },
            "loha" => new Tuners.LoHa.LoHaConfig { R = o.LoraR, Alpha = o.LoraAlpha, Targets = targets },
            "lokr" => new Tuners.LoKr.LoKrConfig { R = o.LoraR, Alpha = o.LoraAlpha, Targets = targets },
            "vera" => new Tuners.Vera.VeraConfig { R = o.LoraR, VeraDropout = o.LoraDropout, ProjectionPrngKey = o.Seed, Targets = targets },
            _ => null,
        };
        if (other != null)
        {
            other.TaskType = taskType;
            other.BaseModelNameOrPath = o.Model;
            other.ModulesToSave = o.ModulesToSave;
            return PeftModel.Create(model, other);
        }
        var config = new LoraConfig
        {
            R = o.LoraR,
            LoraAlpha = o.LoraAlpha,
            LoraDropout = o.LoraDropout,
            UseRsLora = o.UseRsLora,
            UseDora = o.UseDora,
            InitLoraWeights = o.InitLoraWeights,
            ModulesToSave = o.ModulesToSave,
            TaskType = taskType,
            BaseModelNameOrPath = o.Model,
            Targets = targets,
        };
        return PeftModel.Create(model, config);
    }

    private Optimizer CreateOptimizer(PretrainedModel model, PeftModel? peft, List<(string Name, TorchSharp.Modules.Parameter Parameter)> trainable)
    {
        var o = options;
        var groups = o.LoraPlusRatio is { } ratio && peft != null
            ? LoraPlus.Groups(peft, o.LearningRate, ratio, o.WeightDecay)
            : ParamGroups.Standard(model, trainable, o.LearningRate, o.WeightDecay);
        return o.Optimizer switch
        {
            "adamw" => new AdamW(groups, o.Beta1, o.Beta2, o.Epsilon),
            "sgd" => new Sgd(groups, o.Momentum),
            _ => throw new PeftException($"optimizer \"{o.Optimizer}\" is not one of adamw, sgd"),
        };
    }

    private static void SaveAdapterAtomically(PeftModel peft, string dir, TaskInfo info)
    {
        AtomicFolder.Write(dir, temp => { peft.Save(temp); info.Write(temp); }, overwrite: true);
    }

    /// <summary>Options that change the result; resuming with other values would not continue the same run.</summary>
    private static string Fingerprint(TrainingOptions o)
    {
        var relevant = o with { Resume = false, Output = "", Threads = 0, Device = "", EvalEvery = 0, LogEvery = 0, SaveEvery = 0, KeepLast = 0, Baselines = false, FrozenBaseline = false, LowMemory = false, GradientCheckpointing = false, MaxSteps = null, Epochs = 0 };
        var text = relevant + "|" + string.Join(",", o.TargetModules ?? []) + "|" + string.Join(",", o.ModulesToSave ?? []);
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }
}
