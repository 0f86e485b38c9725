namespace PeftSharp.Tuners;

/// <summary>
/// PEFT's naming of adapter tensors on disk: "base_model.model." + module path, with the adapter name
/// removed (lora_A.default.weight is saved as lora_A.weight, modules_to_save.default.weight as weight,
/// a DoRA magnitude as lora_magnitude_vector).
/// </summary>
public static class AdapterKeys
{
    public const string Prefix = "base_model.model.";

    /// <summary>Saved key for a parameter at modulePath whose name inside its adapter layer is localName.</summary>
    public static string ToSaved(string modulePath, string localName, string adapter)
    {
        var local = localName.StartsWith($"modules_to_save.{adapter}.", StringComparison.Ordinal)
            ? localName[$"modules_to_save.{adapter}.".Length..]
            : localName.Replace($".{adapter}", "", StringComparison.Ordinal);
        if (local == "lora_magnitude_vector.weight") local = "lora_magnitude_vector";
        return Prefix + (modulePath.Length == 0 ? local : modulePath + "." + local);
    }
}
