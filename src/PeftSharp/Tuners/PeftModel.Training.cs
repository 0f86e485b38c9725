namespace PeftSharp.Tuners;

/// <summary>The training side of a method (<see cref="IAdapterTraining"/>), made once per adapter when first asked for.</summary>
public sealed partial class PeftModel
{
    private readonly Dictionary<string, IAdapterTraining> _training = new(StringComparer.Ordinal);

    /// <summary>
    /// The active adapter's training work, or null when it is not trainable or its method has none. The same object
    /// every time for an adapter, since it keeps state across steps.
    /// </summary>
    public IAdapterTraining? Training
    {
        get
        {
            if (!_trainable || !_configs.TryGetValue(ActiveAdapter, out var config)) return null;
            if (_training.TryGetValue(ActiveAdapter, out var made)) return made;
            var created = TunerRegistry.For(config.PeftType).CreateTraining(this, ActiveAdapter, config);
            if (created != null) _training[ActiveAdapter] = created;
            return created;
        }
    }
}
