namespace PeftSharp.Models;

/// <summary>
/// Inputs that have been through the model's <see cref="IForwardHook"/>s. Only
/// <see cref="PretrainedModel.Prepare"/> makes one, and the architectures' backbones accept nothing else, so a
/// code path that forgets the hooks (or applies them twice) does not compile.
/// </summary>
public sealed class PreparedInputs
{
    internal PreparedInputs(ModelInputs inputs) => Inputs = inputs;

    public ModelInputs Inputs { get; }
}
