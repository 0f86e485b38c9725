using PeftSharp.Models.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Bert;

/// <summary>BERT with a classifier on the pooled output (transformers' BertForSequenceClassification).</summary>
public sealed class BertForSequenceClassification : PretrainedModel
{
    private readonly BertModel bert;
    private readonly nn.Module<Tensor, Tensor> dropout;
    private nn.Module<Tensor, Tensor> classifier;

    public BertForSequenceClassification(BertConfig config) : base(nameof(BertForSequenceClassification), config)
    {
        Bert = config;
        bert = new BertModel(config);
        dropout = nn.Dropout(config.ClassifierDropout);
        classifier = ModelLayers.Linear(config.Hidden, config.NumLabels);
        RegisterComponents();
    }

    public BertConfig Bert { get; }
    public override string ArchitectureName => "BertForSequenceClassification";
    public override string BaseModelPrefix => "bert";
    public override string OutputHeadName => "classifier";
    /// <summary>A BERT backbone checkpoint (bert-base-uncased) has no classifier: it starts fresh, as in transformers.</summary>
    public override IReadOnlyList<string> TaskHeadModules => ["classifier"];
    public override int LayerCount => Bert.Layers;
    public override Embedding InputEmbeddings => bert.InputEmbeddings;

    protected override ModelOutput Forward(PreparedInputs prepared)
    {
        var inputs = prepared.Inputs;
        var output = bert.Backbone(prepared);
        var hidden = output.LastHiddenState!;
        // A key/value prefix has mask columns but no output positions: pool over the tokens' columns only.
        var mask = inputs.AttentionMask is { } m ? m[.., (int)inputs.PrefixLength..]
            : ones(hidden.shape[0], hidden.shape[1], dtype: ScalarType.Int64, device: hidden.device);
        var features = Bert.ClassifierPooling == "mean" ? Common.MeanPooling.Apply(hidden, mask) : output.PoolerOutput!;
        var logits = classifier.forward(dropout.forward(features));
        return new ModelOutput { Logits = logits, LastHiddenState = output.LastHiddenState, PoolerOutput = output.PoolerOutput };
    }
}
