using PeftSharp.Models.Common;
using System.Text.RegularExpressions;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Gpt2;

/// <summary>transformers' GPT2LMHeadModel: the backbone under "transformer" and an lm_head tied to wte.</summary>
public sealed class Gpt2LMHeadModel : PretrainedModel, ILanguageModelHead, ILayeredModel
{
    private readonly Gpt2Model transformer;
    private nn.Module<Tensor, Tensor> lm_head;

    public Gpt2LMHeadModel(Gpt2Config config) : base(nameof(Gpt2LMHeadModel), config)
    {
        transformer = new Gpt2Model(config);
        lm_head = config.TieWordEmbeddings
            ? new TiedLinear(transformer.TokenEmbedding)
            : ModelLayers.Linear(config.Hidden, config.VocabSize, hasBias: false);
        RegisterComponents();
        Gpt2 = config;
    }

    public Gpt2Config Gpt2 { get; }
    public override string ArchitectureName => "GPT2LMHeadModel";
    public override string BaseModelPrefix => "transformer";
    public override int LayerCount => Gpt2.Layers;

    public override IReadOnlyDictionary<string, string> TiedParameters => Gpt2.TieWordEmbeddings
        ? new Dictionary<string, string> { ["lm_head.weight"] = "transformer.wte.weight" }
        : new Dictionary<string, string>();

    /// <summary>Causal-mask buffers that older GPT-2 exports store per layer.</summary>
    public override IReadOnlyList<Regex> IgnorableCheckpointKeys { get; } =
        [new Regex(@"^(transformer\.)?h\.\d+\.attn\.(masked_)?bias$", RegexOptions.CultureInvariant)];

    /// <summary>An untied lm_head is absent from a checkpoint of the bare backbone (GPT2Model); a tied one is never loaded.</summary>
    public override IReadOnlyList<string> TaskHeadModules => Gpt2.TieWordEmbeddings ? [] : ["lm_head"];

    public override TorchSharp.Modules.Embedding InputEmbeddings => transformer.TokenEmbedding;

    public Tensor ForwardHidden(ModelInputs inputs) => transformer.Forward(Prepare(inputs));

    public nn.Module<Tensor, Tensor> LanguageModelHead => lm_head;

    public LayerPass BeginLayers(ModelInputs inputs) => transformer.BeginLayers(Prepare(inputs));

    protected override ModelOutput Forward(PreparedInputs inputs)
    {
        var hidden = transformer.Forward(inputs);
        return new ModelOutput { Logits = lm_head.forward(hidden), LastHiddenState = hidden };
    }
}
