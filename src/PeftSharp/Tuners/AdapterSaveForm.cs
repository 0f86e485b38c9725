namespace PeftSharp.Tuners;

/// <summary>Which form of an adapter <see cref="PeftModel.Save"/> writes.</summary>
public enum AdapterSaveForm
{
    /// <summary>
    /// For use anywhere, on the original base model: what the method's <see cref="ITuner.ForSaving"/> makes of it (a LoRA
    /// adapter initialised with PiSSA/OLoRA becomes a plain LoRA of twice the rank). The final adapter of a run.
    /// </summary>
    Portable,
    /// <summary>
    /// The tensors and config exactly as the adapter holds them, to be loaded back onto an adapter built the same way
    /// (checkpoints: a resumed run re-runs the initialisation and then copies these tensors in).
    /// </summary>
    AsTrained,
}
