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

    public Tensor Forward(Tensor hidden, AttentionBias bias)
    {
        foreach (var l in layer) hidden = l.Forward(hidden, bias);
        return hidden;
    }
}

/// <summary>tanh(dense(first token)): BERT's sentence representation for classification heads.</summary>
public sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    private nn.Module<Tensor, Tensor> dense;

    public BertPooler(BertConfig config) : base(nameof(BertPooler))
    {
        dense = nn.Linear(config.Hidden, config.Hidden);
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

    public override ModelOutput forward(ModelInputs inputs)
    {
        var hidden = embeddings.Forward(inputs);
        var bias = AttentionBias.Padding(inputs.AttentionMask, hidden.dtype, hidden.device);
        hidden = encoder.Forward(hidden, bias);
        return new ModelOutput { LastHiddenState = hidden, PoolerOutput = pooler?.forward(hidden) };
    }
}
