using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.Bert;

/// <summary>Word + absolute position + token type embeddings, then LayerNorm and dropout.</summary>
public sealed class BertEmbeddings : nn.Module
{
    private readonly Embedding word_embeddings;
    private readonly Embedding position_embeddings;
    private readonly Embedding token_type_embeddings;
    private nn.Module<Tensor, Tensor> LayerNorm;
    private readonly nn.Module<Tensor, Tensor> dropout;
    private readonly BertConfig _config;

    public BertEmbeddings(BertConfig config) : base(nameof(BertEmbeddings))
    {
        _config = config;
        word_embeddings = nn.Embedding(config.VocabSize, config.Hidden, padding_idx: config.PadTokenId);
        position_embeddings = nn.Embedding(config.MaxPositions, config.Hidden);
        token_type_embeddings = nn.Embedding(config.TypeVocabSize, config.Hidden);
        LayerNorm = nn.LayerNorm(config.Hidden, config.LayerNormEps);
        dropout = nn.Dropout(config.HiddenDropout);
        RegisterComponents();
    }

    public Embedding WordEmbeddings => word_embeddings;

    /// <param name="past">Positions before these tokens (a key/value prefix): computed positions start there, as
    /// transformers' BertEmbeddings offsets them by past_key_values_length.</param>
    public Tensor Forward(ModelInputs inputs, long past = 0)
    {
        var embeds = inputs.InputsEmbeds ?? word_embeddings.forward(inputs.RequireInputIds("BERT"));
        long length = embeds.shape[1];
        if (length > _config.MaxPositions)
            throw new PeftException($"BERT: {length} tokens exceed max_position_embeddings {_config.MaxPositions}");
        if (inputs.PositionIds is null && past + length > _config.MaxPositions)
            throw new PeftException($"BERT: prefix {past} + {length} tokens exceed max_position_embeddings {_config.MaxPositions}");
        var positions = inputs.PositionIds ?? arange(past, past + length, dtype: ScalarType.Int64, device: embeds.device).unsqueeze(0);
        var types = inputs.TokenTypeIds ?? zeros(embeds.shape[0], length, dtype: ScalarType.Int64, device: embeds.device);
        var sum = embeds.add(token_type_embeddings.forward(types)).add(position_embeddings.forward(positions));
        return dropout.forward(LayerNorm.forward(sum));
    }
}
