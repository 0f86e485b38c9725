using PeftSharp.Models.Common;
using PeftSharp.Models.Gpt2;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Tuners;

/// <summary>
/// Independent copies of the modules people put in modules_to_save (heads, classifiers, embeddings).
/// TorchSharp has no generic deep copy, so each supported type is rebuilt with cloned parameters.
/// </summary>
public static class ModuleCopy
{
    public static nn.Module<Tensor, Tensor> Clone(nn.Module module, string name)
    {
        using var _ = no_grad();
        switch (module)
        {
            case Linear l:
                return nn.Linear(l.weight.detach().clone().AsParameter(), l.bias?.detach().clone().AsParameter());
            case TiedLinear t:
                return nn.Linear(t.Weight.detach().clone().AsParameter());
            case Conv1D c:
            {
                var copy = new Conv1D(c.InFeatures, c.OutFeatures, c.Weight.device);
                copy.Weight.copy_(c.Weight);
                copy.Bias.copy_(c.Bias);
                return copy;
            }
            case Embedding e:
                return nn.Embedding_from_pretrained(e.weight!.detach().clone(), freeze: false);
            default:
                throw new PeftException($"modules_to_save: \"{name}\" is a {module.GetType().Name}; PeftSharp can copy Linear, Conv1D, tied heads and Embedding modules");
        }
    }
}
