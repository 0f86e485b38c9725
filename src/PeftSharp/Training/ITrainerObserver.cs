namespace PeftSharp.Training;

/// <summary>What a trainer tells its caller while it runs (the CLI draws a progress bar and writes logs from it).</summary>
public interface ITrainerObserver
{
    void OnStart(TrainingPlan plan) { }
    void OnStep(StepRecord step) { }
    void OnEvaluation(EvalRecord evaluation) { }
    void OnMessage(string message) { }
    /// <summary>Earlier rounds' sets compared between the start and the weights written, once, at the end.</summary>
    void OnRetention(IReadOnlyList<Rounds.SetComparison> sets) { }
}

/// <summary>The shape of a run, known before its first step.</summary>
public sealed record TrainingPlan(int TotalSteps, int StepsPerEpoch, int StartStep, int TrainExamples, int ValidationExamples,
    long TrainableParameters, long AllParameters, string? Labels);
