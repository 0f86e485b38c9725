using PeftSharp.Models.Gpt2;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Quantization;

/// <summary>
/// Holds a loaded model's linear layers in 4 bits, as transformers' replace_with_bnb_linear does when a model is
/// loaded with load_in_4bit: every nn.Linear and GPT-2 Conv1D (its [in, out] weight transposed to [out, in] first)
/// becomes a frozen <see cref="Linear4bit"/>, except the output head (lm_head, the classifier: transformers'
/// modules_to_not_convert) and layers the model initialised freshly (a new classifier, which trains). Embeddings and
/// norms are not linear layers and stay in full precision. Each float weight is freed as soon as its layer is
/// quantized, so what stays is the 4-bit model; <see cref="WhileLoading"/> quantizes during loading, so that the float
/// model never exists at once either.
/// </summary>
public static class ModelQuantizer
{
    /// <summary>Replaces the layers in place; returns how many were quantized.</summary>
    public static int Quantize(PretrainedModel model, QuantizationConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        var targets = Targets(model);
        foreach (var (name, module) in targets) QuantizeOne(model, name, module, config);
        return targets.Count;
    }

    /// <summary>
    /// Quantizes each layer the moment the weight loader has filled its last tensor (give it as the loader's afterEach), so
    /// a model built with <see cref="Common.ModelLayers.WithoutInitialisation"/> never holds more than one float layer:
    /// the peak while loading is the 4-bit model plus one layer, not the float model. The same layers and the same bits as
    /// <see cref="Quantize"/> after loading (call it afterwards too: it takes whatever was not complete, such as a layer
    /// with a freshly initialised part, and is a no-op otherwise).
    /// </summary>
    public static Action<string> WhileLoading(PretrainedModel model, QuantizationConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        var pending = Targets(model).ToDictionary(t => t.Name, t => (t.Module, Remaining: t.Module.named_parameters().Count()), StringComparer.Ordinal);
        return name =>
        {
            int dot = name.LastIndexOf('.');
            if (dot <= 0 || !pending.TryGetValue(name[..dot], out var entry)) return;
            var owner = name[..dot];
            if (entry.Remaining > 1) { pending[owner] = (entry.Module, entry.Remaining - 1); return; }
            pending.Remove(owner);
            QuantizeOne(model, owner, entry.Module, config);
        };
    }

    /// <summary>Linear layers and Conv1Ds other than the output head and freshly initialised layers.</summary>
    private static List<(string Name, nn.Module Module)> Targets(PretrainedModel model)
    {
        var head = model.OutputHeadName is { } h ? h + "." : null;
        var fresh = model.FreshParameters.ToHashSet(StringComparer.Ordinal);
        return ModuleTree.NamedModules(model)
            .Where(m => m.Module is Linear or Conv1D && m.Name.Length > 0)
            .Where(m => head is null || !(m.Name + ".").StartsWith(head, StringComparison.Ordinal))
            .Where(m => !fresh.Contains(m.Name + ".weight"))
            .Select(m => (m.Name, m.Module))
            .ToList();
    }

    private static void QuantizeOne(PretrainedModel model, string name, nn.Module module, QuantizationConfig config)
    {
        QuantState state;
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            var weight = module is Conv1D c ? c.Weight.t().contiguous() : (Tensor)((Linear)module).weight!;
            state = FourBitQuantizer.Quantize(weight, config.Type, config.BlockSize, config.DoubleQuant);
            // The module owns these from here: out of every dispose scope, a caller's included.
            state.Packed.DetachFromDisposeScope();
            state.Absmax.DetachFromDisposeScope();
            state.Nested?.Absmax.DetachFromDisposeScope();
            state.Nested?.Code.DetachFromDisposeScope();
        }
        var bias = module switch { Linear l => l.bias, Conv1D c => c.Bias, _ => null };
        var quantized = new Linear4bit(state, bias) { ComputeDType = config.ComputeDType, FanInFanOut = module is Conv1D };
        ModuleTree.Replace(model, name, quantized);
        module.Dispose();
    }

    /// <summary>
    /// Holds the layers of a model loaded from a bitsandbytes 4-bit checkpoint in 4 bits again, with the checkpoint's own
    /// packed codes and scales (not a second quantization of their dequantized values): each layer whose P.weight the
    /// file stores quantized becomes a <see cref="Linear4bit"/> of exactly those bytes, as transformers loads such a
    /// checkpoint. Done before the rest of the weights are loaded: the float layer is disposed unread, and the new layer's
    /// bias (a copy of the float layer's, until the loader fills it from P.bias) keeps its dtype and device. Returns how many.
    /// </summary>
    public static int FromCheckpoint(PretrainedModel model, Bnb4BitCheckpoint checkpoint, ScalarType computeDType)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(checkpoint);
        var modules = ModuleTree.NamedModules(model).ToDictionary(m => m.Name, m => m.Module, StringComparer.Ordinal);
        int count = 0;
        foreach (var key in checkpoint.QuantizedKeys)
        {
            var stem = key.EndsWith(".weight", StringComparison.Ordinal) ? key[..^".weight".Length] : key;
            // As the weight loader matches names: a backbone checkpoint lacks the task model's prefix, and the other way round.
            var prefix = model.BaseModelPrefix + ".";
            var name = modules.ContainsKey(stem) || model.BaseModelPrefix.Length == 0 ? stem
                : stem.StartsWith(prefix, StringComparison.Ordinal) ? stem[prefix.Length..] : prefix + stem;
            if (!modules.TryGetValue(name, out var module) || module is not (Linear or Conv1D))
                throw new PeftException($"{checkpoint}: '{key}' is stored in 4 bits, but '{name}' is not a linear layer of {model.ArchitectureName}");
            var state = checkpoint.LoadQuantState(key);
            var device = module.parameters().First().device;
            if (device.type != DeviceType.CPU) state = MoveTo(state, device);
            long outFeatures = module is Conv1D c ? c.Weight.shape[1] : ((Linear)module).weight!.shape[0];
            long inFeatures = module is Conv1D c2 ? c2.Weight.shape[0] : ((Linear)module).weight!.shape[1];
            if (state.Shape.Length != 2 || state.Shape[0] != outFeatures || state.Shape[1] != inFeatures)
            {
                state.Dispose();
                throw new PeftException($"{checkpoint}: '{key}' has quant_state shape [{string.Join(", ", state.Shape)}], but '{name}' is [{outFeatures}, {inFeatures}] (out, in)");
            }
            var bias = module switch { Linear l => l.bias, Conv1D conv => conv.Bias, _ => null };
            var quantized = new Linear4bit(state, bias) { ComputeDType = computeDType, FanInFanOut = module is Conv1D };
            ModuleTree.Replace(model, name, quantized);
            module.Dispose();
            count++;
        }
        return count;
    }

    private static QuantState MoveTo(QuantState s, Device device)
    {
        var nested = s.Nested is { } n ? new NestedAbsmax(n.Absmax.to(device), n.Code.to(device), n.BlockSize, n.Offset) : null;
        var moved = new QuantState(s.Packed.to(device), s.Absmax.to(device), s.QuantType, s.BlockSize, s.Shape, s.DType, nested);
        s.Dispose();
        return moved;
    }

    /// <summary>
    /// Puts float layers back in place of the 4-bit ones, each holding its dequantized weight (float32, or the dtype the
    /// weight was quantized from) and the bias: the model as the 4-bit layers compute it, now with weights that can be
    /// written. What a merge onto a 4-bit base starts from; returns how many layers were replaced.
    /// </summary>
    public static int Dequantize(PretrainedModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var layers = Layers(model).ToList();
        foreach (var (name, q) in layers)
        {
            // Modules are made outside the scope (their parameters must outlive it); only the copying happens inside.
            Conv1D? conv = q.FanInFanOut ? new Conv1D(q.InFeatures, q.OutFeatures, q.Device) : null;
            Linear? linear = q.FanInFanOut ? null : nn.Linear(q.InFeatures, q.OutFeatures, hasBias: q.Bias is not null, device: q.Device);
            using (var scope = NewDisposeScope())
            using (no_grad())
            {
                var weight = q.DequantizedWeight();
                if (conv != null)
                {
                    conv.Weight.copy_(weight.t());
                    if (q.Bias is { } b) conv.Bias.copy_(b); else conv.Bias.zero_();
                }
                else
                {
                    linear!.weight!.copy_(weight);
                    if (q.Bias is { } b) linear.bias!.copy_(b);
                }
            }
            nn.Module<Tensor, Tensor> restored = (nn.Module<Tensor, Tensor>?)conv ?? linear!;
            if (q.OriginalDType != ScalarType.Float32) restored.to(q.OriginalDType);
            foreach (var p in restored.parameters()) p.requires_grad = false;
            ModuleTree.Replace(model, name, restored);
            q.Dispose();
        }
        return layers.Count;
    }

    /// <summary>The model's 4-bit layers by name.</summary>
    public static IEnumerable<(string Name, Linear4bit Layer)> Layers(nn.Module model) =>
        ModuleTree.NamedModules(model).Where(m => m.Module is Linear4bit).Select(m => (m.Name, (Linear4bit)m.Module));
}
