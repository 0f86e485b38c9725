using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// What a method does during training beyond its layers' forward: a term added to every micro-batch's loss, work
/// after each optimizer step, and the state that work keeps (AdaLoRA's orthogonal regulariser and rank allocator).
/// A tuner creates it (<see cref="ITuner.CreateTraining"/>); <see cref="PeftModel.Training"/> hands the trained
/// adapter's one to the trainer, which calls it without knowing the method. Its state goes into every checkpoint
/// and comes back on resume, so a resumed run continues exactly.
/// </summary>
public interface IAdapterTraining
{
    /// <summary>Once, before the first step (also when resuming): the optimizer steps the run takes.</summary>
    void Begin(int totalSteps);

    /// <summary>
    /// A term added to the loss of each micro-batch (the trainer back-propagates it with the micro-batch's scale), or
    /// null for none. Built from the adapter's parameters only, so it is the same for every micro-batch of a step.
    /// </summary>
    Tensor? ExtraLoss();

    /// <summary>After the optimizer step numbered <paramref name="step"/> (0-based), with that step's accumulated gradients still in place.</summary>
    void AfterOptimizerStep(int step);

    /// <summary>The state to checkpoint, under names of the method's choosing (new tensors belong to the caller's dispose scope).</summary>
    IEnumerable<KeyValuePair<string, Tensor>> StateTensors();

    /// <summary>Puts back what <see cref="StateTensors"/> gave (an empty set is a valid state: nothing kept yet).</summary>
    void LoadState(IReadOnlyDictionary<string, Tensor> state);
}
