using System.Security.Cryptography;
using System.Text;
using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Models.Quantization;
using PeftSharp.Options;
using PeftSharp.Tokenization;
using PeftSharp.Training.Analysis;
using PeftSharp.Training.Rounds;
using PeftSharp.Tuners;
using TorchSharp;
using Parameter = TorchSharp.Modules.Parameter;
using static TorchSharp.torch;

namespace PeftSharp.Training;

/// <summary>
/// Everything one training run works with, set up from the options: data, model and adapter, loaders, schedule,
/// optimizer, checkpoints and the state to start from. <see cref="Trainer"/> runs the steps over it; keeping the
/// setup here keeps the loop readable. Owns the model and optimizer (native memory), freed by Dispose.
/// </summary>
internal sealed class TrainingRun : IDisposable
{
    private TrainingRun(TrainingOptions options, Device device, TrainingData data, PretrainedModel model, PeftModel? peft,
        DataLoader loader, DataLoader validation, int total, int stepsPerEpoch, LearningRateSchedule schedule,
        List<(string Name, Parameter Parameter)> trainable, Optimizer optimizer, Collator collator, ForgettingProbe? forgetting, RetentionCheck retention)
    {
        Collator = collator;
        Forgetting = forgetting;
        Retention = retention;
        Options = options;
        Device = device;
        Data = data;
        Model = model;
        Peft = peft;
        Loader = loader;
        Validation = validation;
        Total = total;
        StepsPerEpoch = stepsPerEpoch;
        Schedule = schedule;
        Trainable = trainable;
        Optimizer = optimizer;
        Checkpoints = new Checkpoints(options.Output, options.KeepLast);
        Metric = options.MetricForBest == "auto" ? Evaluator.DefaultMetric(data.Task.Kind) : options.MetricForBest;
        HigherIsBetter = Evaluator.HigherIsBetter(Metric);
        Fingerprint = FingerprintOf(options);
        RecordedOptions = ResumeRules.Record(options);
        Report = peft?.TrainableParameters() ?? new TrainableReport(trainable.Sum(p => p.Parameter.numel()), model.parameters().Sum(p => p.numel()));
    }

    public TrainingOptions Options { get; }
    public Device Device { get; }
    public TrainingData Data { get; }
    public TaskKind Kind => Data.Task.Kind;
    public PretrainedModel Model { get; }
    /// <summary>The adapter being trained; null for the full and head baselines.</summary>
    public PeftModel? Peft { get; }
    public DataLoader Loader { get; }
    public DataLoader Validation { get; }
    public int Total { get; }
    public int StepsPerEpoch { get; }
    public LearningRateSchedule Schedule { get; }
    public List<(string Name, Parameter Parameter)> Trainable { get; }
    public Optimizer Optimizer { get; }
    public Collator Collator { get; }
    /// <summary>Drift from the original on general text, added to every evaluation; null when off or not defined for the task.</summary>
    public ForgettingProbe? Forgetting { get; }
    /// <summary>Earlier rounds' validation sets, compared between the start and the weights written.</summary>
    public RetentionCheck Retention { get; }
    public Checkpoints Checkpoints { get; }
    /// <summary>The validation metric that picks the best weights and drives early stopping.</summary>
    public string Metric { get; }
    public bool HigherIsBetter { get; }
    public string Fingerprint { get; }
    /// <summary>The options as each checkpoint records them, for a resume to compare with (<see cref="ResumeRules"/>).</summary>
    public IReadOnlyDictionary<string, string> RecordedOptions { get; }
    public TrainableReport Report { get; }
    /// <summary>What target_modules auto resolved to; the trainer keeps it in the run folder (auto-targets.json).</summary>
    public AutoTargetPlan? ChosenTargets { get; private init; }
    /// <summary>What layer_groups auto resolved to; the trainer keeps it in the run folder (layer-groups.json).</summary>
    public LayerGroupPlan? ChosenLayerGroups { get; private init; }

    /// <summary>Reads the data, builds the model and adapter, loaders, schedule and optimizer.</summary>
    public static TrainingRun Create(TrainingOptions o, Action<string> log)
    {
        o = TaskInference.Resolve(o, log); // a library caller may leave the task to be inferred, as the CLI does
        if (o.Threads > 0) set_num_threads(o.Threads);
        if (o.LowMemory && !Native.Allocator.ReturnLargeBlocksToSystem()) log("low_memory: not available on this system; ignored");
        var device = Devices.Parse(o.Device);
        // The run folder is not created here: nothing is written into it before a resume's options are accepted.
        if (string.IsNullOrEmpty(o.Output)) throw new PeftException("no output folder: set output (--output)");
        manual_seed(o.Seed);

        var tokenizer = AutoTokenizer.FromFolder(o.Model);
        var data = TrainingData.Build(o, tokenizer, log);
        var quantization = QuantizationConfig.From(o.Quantize, o.DoubleQuant, o.ComputeDtype);
        var model = data.Task.Kind == TaskKind.SequenceClassification
            ? AutoModel.ForSequenceClassification(o.Model, data.Labels!.Count, o.Pooling, device, log: log, warn: log, quantization: quantization)
            : AutoModel.FromPretrained(o.Model, device, warn: log, quantization: quantization);
        int fourBit = ModelQuantizer.Layers(model).Count();
        if (fourBit > 0) log($"base in 4 bits: {fourBit} linear layers as {quantization?.ToString() ?? "stored in the checkpoint (bitsandbytes)"}");
        try
        {
            if (fourBit > 0 && o.Method == TrainingMethods.Full)
                throw new PeftException($"{o.Model}: method full trains every weight, and {fourBit} linear layers of this base are 4-bit and frozen; "
                    + "train an adapter (lora) on it, or merge it to full precision first (peft merge --model ... --out ...)");
            manual_seed(o.Seed);
            var collator = Collator.For(tokenizer, new CollatorOptions { DecoderStartTokenId = model is IEncoderDecoder ed ? ed.DecoderStartTokenId : null });
            var plan = AutoTargets.IsAuto(o.TargetModules) && o.FromAdapter == null ? AutoTargets.ForRun(o, model, data, collator, device, log) : null;
            var groups = LayerGroups.IsAuto(o.LayerGroups) && o.FromAdapter == null ? AutoLayerGroups.ForRun(o, model, data, collator, device, log) : null;
            manual_seed(o.Seed); // the analysis drew from the generator; the adapter starts as it would without it
            var peft = TrainingMethods.Adapt(model, o, data.Task.Kind, log, text => tokenizer.Encode(text), plan, groups?.Groups);
            var loader = new DataLoader(data.Train, collator, o.BatchSize, o.Seed);
            var validation = new DataLoader(data.Validation, collator, o.BatchSize, o.Seed, shuffle: false);
            int stepsPerEpoch = (loader.BatchesPerEpoch + o.GradientAccumulation - 1) / o.GradientAccumulation;
            int total = o.MaxSteps ?? stepsPerEpoch * o.Epochs;
            peft?.Training?.Begin(total); // a method that schedules over the run (AdaLoRA's budget) learns its length
            int warmup = o.WarmupSteps > 0 ? o.WarmupSteps : (int)Math.Ceiling(o.WarmupRatio * total);
            var trainable = peft?.TrainableNamedParameters().ToList() ?? model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
            var (dtype, reason) = Training.Precision.Resolve(o.Precision, device);
            if (o.Precision != "fp32") log(reason);
            var masters = dtype == ScalarType.Float32 ? null : ToLowPrecision(o, model, peft, fourBit, dtype, ref trainable);
            var optimizer = CreateOptimizer(o, model, peft, trainable);
            if (masters != null)
            {
                optimizer.UseMasterWeights(masters);
                foreach (var m in masters.Values) m.Dispose();
                if (dtype == ScalarType.Float16) optimizer.Scaler = new LossScaler();
                if (peft != null) peft.SavedValueOf = optimizer.MasterOf;
            }
            var forgetting = ForgettingProbe.For(o, data.Task.Kind, model, peft, tokenizer, log);
            var retention = RetentionCheck.For(o, data, log);
            return new TrainingRun(o, device, data, model, peft, loader, validation, total, stepsPerEpoch,
                new LearningRateSchedule(o.Scheduler, warmup, total), trainable, optimizer, collator, forgetting, retention) { ChosenTargets = plan, ChosenLayerGroups = groups };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Mixed precision (<see cref="Training.Precision"/>): takes float32 copies of the trainable tensors (the optimizer's
    /// masters), then converts the whole model to the low-precision dtype and returns the trainable tensors anew (the
    /// conversion replaces parameter objects). Refused where a method edits its parameters outside the optimizer, which
    /// the masters would undo, and on a 4-bit base, whose precision is its compute dtype.
    /// </summary>
    private static Dictionary<string, Tensor> ToLowPrecision(TrainingOptions o, PretrainedModel model, PeftModel? peft, int fourBit, ScalarType dtype,
        ref List<(string Name, Parameter Parameter)> trainable)
    {
        if (fourBit > 0)
            throw new PeftException($"precision {o.Precision}: the base is 4-bit; its matmuls' dtype is compute_dtype (--compute-dtype bfloat16), and the rest trains in float32: leave precision at fp32");
        if (peft?.Training != null)
            throw new PeftException($"precision {o.Precision}: method {o.Method} changes its parameters between optimizer steps (as AdaLoRA's rank allocation does), "
                + "which float32 master weights would undo; train it with precision fp32");
        var masters = new Dictionary<string, Tensor>(StringComparer.Ordinal);
        using (no_grad())
            foreach (var (name, p) in trainable) masters[name] = p.detach().to(ScalarType.Float32, copy: true).DetachFromDisposeScope();
        model.to(dtype);
        trainable = peft?.TrainableNamedParameters().ToList() ?? model.named_parameters().Where(p => p.parameter.requires_grad).ToList();
        return masters;
    }

    /// <summary>Validation metrics of the model as it is now, with its drift from the original on general text (<see cref="Forgetting"/>).</summary>
    public IReadOnlyDictionary<string, double> Evaluate(CancellationToken cancellation = default)
    {
        var metrics = Evaluator.Evaluate(Model, Kind, Validation.Epoch(0), Device, cancellation);
        if (Forgetting != null)
            foreach (var (k, v) in Forgetting.Measure()) metrics[k] = v;
        return metrics;
    }

    private static Optimizer CreateOptimizer(TrainingOptions o, PretrainedModel model, PeftModel? peft, List<(string Name, Parameter Parameter)> trainable)
    {
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

    /// <summary>
    /// Options that change the result; resuming with other values would not continue the same run. Checkpoints now
    /// record the options themselves (<see cref="RecordedOptions"/>); this hash decides only for older ones.
    /// </summary>
    private static string FingerprintOf(TrainingOptions o)
    {
        var relevant = o with
        {
            Resume = false, Output = "", Threads = 0, Device = "", EvalEvery = 0, LogEvery = 0, SaveEvery = 0, KeepLast = 0, Baselines = false,
            FrozenBaseline = false, LowMemory = false, GradientCheckpointing = false, MaxSteps = null, Epochs = 0, MethodOptions = OptionValues.Empty,
        };
        // The method's options by their effective values, so a default written out in config.yaml equals one left unset.
        var method = string.Join(",", TrainingSchema.All.Where(s => s.Method is not null && s.AppliesTo(o.Method)).Select(s => $"{s.Key}={OptionSpec.Show(TrainingSchema.Get(o, s))}"));
        var text = relevant + "|" + string.Join(",", o.TargetModules ?? []) + "|" + string.Join(",", o.ModulesToSave ?? []) + "|" + method;
        return Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }

    public void Dispose()
    {
        Forgetting?.Dispose();
        Optimizer.Dispose();
        Model.Dispose();
    }
}
