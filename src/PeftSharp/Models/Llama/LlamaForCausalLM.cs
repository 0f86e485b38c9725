using PeftSharp.Models.Common;
using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Models.Llama;

/// <summary>
/// transformers' LlamaForCausalLM, also used for MistralForCausalLM and Qwen2ForCausalLM whose
/// parameter names and computation are the same up to config switches.
/// </summary>
public sealed class LlamaForCausalLM : PretrainedModel, ILanguageModelHead, ILayeredModel
{
    private readonly LlamaModel model;
    private nn.Module<Tensor, Tensor> lm_head;

    public LlamaForCausalLM(LlamaConfig config) : base(nameof(LlamaForCausalLM), config)
    {
        model = new LlamaModel(config);
        lm_head = config.TieWordEmbeddings
            ? new TiedLinear(model.TokenEmbedding)
            : ModelLayers.Linear(config.Hidden, config.VocabSize, hasBias: false);
        RegisterComponents();
        Llama = config;
    }

    public LlamaConfig Llama { get; }

    public override string ArchitectureName => Llama.ModelType switch
    {
        "mistral" => "MistralForCausalLM",
        "qwen2" => "Qwen2ForCausalLM",
        _ => "LlamaForCausalLM",
    };

    public override string BaseModelPrefix => "model";
    public override int LayerCount => Llama.Layers;

    public override IReadOnlyDictionary<string, string> TiedParameters => Llama.TieWordEmbeddings
        ? new Dictionary<string, string> { ["lm_head.weight"] = "model.embed_tokens.weight" }
        : new Dictionary<string, string>();

    /// <summary>An untied lm_head is absent from a checkpoint of the bare backbone (LlamaModel); a tied one is never loaded.</summary>
    public override IReadOnlyList<string> TaskHeadModules => Llama.TieWordEmbeddings ? [] : ["lm_head"];

    public override TorchSharp.Modules.Embedding InputEmbeddings => model.TokenEmbedding;

    public Tensor ForwardHidden(ModelInputs inputs) => model.Forward(Prepare(inputs));

    public nn.Module<Tensor, Tensor> LanguageModelHead => lm_head;

    public LayerPass BeginLayers(ModelInputs inputs) => model.BeginLayers(Prepare(inputs));

    protected override ModelOutput Forward(PreparedInputs inputs)
    {
        var hidden = model.Forward(inputs);
        return new ModelOutput { Logits = lm_head.forward(hidden), LastHiddenState = hidden };
    }
}
