using PeftSharp.Models.Common;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace PeftSharp.Models.T5;

/// <summary>
/// transformers' T5ForConditionalGeneration: a shared embedding, encoder and decoder stacks and an
/// lm_head; with tied embeddings the decoder output is scaled by d_model^-0.5 before the head.
/// </summary>
public sealed class T5ForConditionalGeneration : PretrainedModel, IEncoderDecoder, ILanguageModelHead
{
    private readonly Embedding shared;
    private readonly T5Stack encoder;
    private readonly T5Stack decoder;
    private nn.Module<Tensor, Tensor> lm_head;

    public T5ForConditionalGeneration(T5Config config) : base(nameof(T5ForConditionalGeneration), config)
    {
        T5 = config;
        shared = nn.Embedding(config.VocabSize, config.DModel);
        encoder = new T5Stack(config, shared, isDecoder: false);
        decoder = new T5Stack(config, shared, isDecoder: true);
        lm_head = config.TieWordEmbeddings ? new TiedLinear(shared) : ModelLayers.Linear(config.DModel, config.VocabSize, hasBias: false);
        RegisterComponents();
    }

    public T5Config T5 { get; }
    public override string ArchitectureName => "T5ForConditionalGeneration";
    public override string BaseModelPrefix => "";
    public override int LayerCount => T5.DecoderLayers;
    public override Embedding InputEmbeddings => shared;
    public long DecoderStartTokenId => T5.DecoderStartTokenId;

    public override IReadOnlyDictionary<string, string> TiedParameters
    {
        get
        {
            var tied = new Dictionary<string, string>
            {
                ["encoder.embed_tokens.weight"] = "shared.weight",
                ["decoder.embed_tokens.weight"] = "shared.weight",
            };
            if (T5.TieWordEmbeddings) tied["lm_head.weight"] = "shared.weight";
            return tied;
        }
    }

    /// <summary>Runs the encoder alone (generation encodes once and decodes many times). A key/value prefix in the
    /// (prepared) inputs is ignored here: it belongs to the decoder's self-attention, as in PEFT, and the decoder
    /// gets it from the forward call's inputs.</summary>
    public Tensor Encode(ModelInputs inputs) => EncodeStack(Prepare(inputs).Inputs);

    protected override ModelOutput Forward(PreparedInputs inputs)
    {
        var (encoded, decoded) = EncodeDecode(inputs);
        return new ModelOutput { Logits = lm_head.forward(HeadInput(decoded)), EncoderLastHiddenState = encoded, DecoderLastHiddenState = decoded };
    }

    public Tensor ForwardHidden(ModelInputs inputs) => HeadInput(EncodeDecode(Prepare(inputs)).Decoded);

    public nn.Module<Tensor, Tensor> LanguageModelHead => lm_head;

    private Tensor EncodeStack(ModelInputs prepared) =>
        encoder.Forward(prepared.InputIds, prepared.InputsEmbeds, prepared.AttentionMask, null, null, null);

    /// <summary>The decoder's mask (DecoderAttentionMask) covers a prefix; the encoder's (AttentionMask) does not.</summary>
    private (Tensor Encoded, Tensor Decoded) EncodeDecode(PreparedInputs prepared)
    {
        var inputs = prepared.Inputs;
        var encoded = inputs.EncoderLastHiddenState ?? EncodeStack(inputs);
        var decoderIds = inputs.DecoderInputIds ?? throw new PeftException("T5: decoder_input_ids are required for a forward pass");
        return (encoded, decoder.Forward(decoderIds, null, inputs.DecoderAttentionMask, encoded, inputs.AttentionMask, inputs.Cache, inputs.Prefix));
    }

    /// <summary>With tied embeddings T5 scales the decoder output by d_model^-0.5 before the head.</summary>
    private Tensor HeadInput(Tensor decoded) => T5.TieWordEmbeddings ? decoded.mul(Math.Pow(T5.DModel, -0.5)) : decoded;
}
