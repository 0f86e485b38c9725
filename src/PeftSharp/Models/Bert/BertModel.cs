using PeftSharp.Models.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Bert;

/// <summary>The encoder stack, as transformers' BertEncoder (parameters under encoder.layer.N).</summary>
public sealed class BertEncoder : nn.Module
{
    private readonly ModuleList<BertLayer> layer;

    public BertEncoder(BertConfig config) : base(nameof(BertEncoder))
    {
        layer = nn.ModuleList(Enumerable.Range(0, config.Layers).Select(_ => new BertLayer(config)).ToArray());
        RegisterComponents();
    }

    public Tensor Forward(Tensor hidden, AttentionBias bias, KeyValuePrefix? prefix)
    {
        for (int i = 0; i < layer.Count; i++) hidden = layer[i].Forward(hidden, bias, prefix, i);
        return hidden;
    }
}

/// <summary>tanh(dense(first token)): BERT's sentence representation for classification heads.</summary>
public sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    private nn.Module<Tensor, Tensor> dense;

    public BertPooler(BertConfig config) : base(nameof(BertPooler))
    {
        dense = ModelLayers.Linear(config.Hidden, config.Hidden);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden) => dense.forward(hidden[.., 0]).tanh();
}

/// <summary>
/// transformers' BertModel: embeddings, encoder and pooler. Used directly for sentence embeddings
/// (MiniLM) and as the backbone "bert" of the task models.
/// </summary>
public sealed class BertModel : PretrainedModel
{
    private readonly BertEmbeddings embeddings;
    private readonly BertEncoder encoder;
    private readonly BertPooler? pooler;

    public BertModel(BertConfig config, bool addPooler = true) : base(nameof(BertModel), config)
    {
        Bert = config;
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config);
        pooler = addPooler ? new BertPooler(config) : null;
        RegisterComponents();
    }

    public BertConfig Bert { get; }
    public override string ArchitectureName => "BertModel";
    public override string BaseModelPrefix => "bert";
    public override string? OutputHeadName => null;
    public override int LayerCount => Bert.Layers;
    public override Embedding InputEmbeddings => embeddings.WordEmbeddings;

    protected override ModelOutput Forward(PreparedInputs inputs) => Backbone(inputs);

    /// <summary>
    /// The forward pass on prepared inputs, for the task models that hold this as their backbone (their own
    /// hooks have run; this model's do not run again). A prefix is seen by every layer's self-attention and
    /// shifts computed positions by P; the attention mask then covers P + tokens.
    /// </summary>
    public ModelOutput Backbone(PreparedInputs prepared)
    {
        var inputs = prepared.Inputs;
        long prefixLength = inputs.PrefixLength;
        var hidden = embeddings.Forward(inputs, prefixLength);
        inputs.Prefix?.Validate("BERT", Bert.Layers, hidden.shape[0], Bert.Heads, Bert.HeadDim);
        var bias = AttentionBias.Padding(inputs.AttentionMask, hidden.dtype, hidden.device, prefixLength + hidden.shape[1], prefixLength);
        hidden = encoder.Forward(hidden, bias, inputs.Prefix);
        return new ModelOutput { LastHiddenState = hidden, PoolerOutput = pooler?.forward(hidden) };
    }
}
