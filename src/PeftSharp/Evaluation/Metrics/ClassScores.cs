namespace PeftSharp.Evaluation.Metrics;

/// <summary>One class's precision, recall and F1, and how many true examples it has (its support).</summary>
public sealed record ClassScores<T>(T Label, double Precision, double Recall, double F1, int Support);
