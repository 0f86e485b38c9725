using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.PromptLearning;

/// <summary>
/// Prompt tuning's and P-tuning's forward: V virtual-token embeddings in front of the input embeddings, as PEFT's
/// PeftModelFor* forwards do. The mask gets V ones in front; classification inputs get V zero token_type_ids (other
/// tasks drop token_type_ids, as PEFT does); explicit position_ids are dropped, as PEFT 0.18 does ("not supported"),
/// so the model numbers virtual and real tokens 0.. after any cache. A decoder whose KV cache already holds the
/// virtual tokens (a generation step) gets only the longer mask. Encoder-decoder models take the first V rows in
/// front of the encoder's input; the decoder is untouched.
/// </summary>
/// <param name="prompts">The [rows, hidden] virtual-token embeddings, recomputed per forward (an encoder's output while
/// training), given the model's training flag.</param>
public sealed class VirtualTokensHook(Func<bool, Tensor> prompts, int virtualTokens, string? taskType) : IForwardHook
{
    public ModelInputs Prepare(PretrainedModel model, ModelInputs inputs)
    {
        long v = virtualTokens;
        bool encoderDecoder = model is IEncoderDecoder;
        bool classifies = taskType is TaskTypes.SequenceClassification or "TOKEN_CLS" or "QUESTION_ANS";
        bool cached = !encoderDecoder && inputs.Cache is { Length: > 0 };
        bool hasTokens = inputs.InputIds is not null || inputs.InputsEmbeds is not null;
        var result = inputs with
        {
            AttentionMask = inputs.AttentionMask is { } m ? OnesFirst(m, v) : null,
            PositionIds = null,
            TokenTypeIds = classifies ? inputs.TokenTypeIds : null,
        };
        // A cached decoder step, or an encoder-decoder step that reuses the encoder output (which has the virtual
        // positions): only the mask over them is extended.
        if (cached || !hasTokens) return result;
        var embeds = inputs.InputsEmbeds ?? model.InputEmbeddings.forward(inputs.InputIds!);
        long batch = embeds.shape[0];
        var rows = prompts(model.training);
        if (rows.shape[0] > v) rows = rows[..(int)v];
        var virtualEmbeds = rows.to(embeds.dtype, embeds.device).unsqueeze(0).expand(batch, -1, -1);
        return result with
        {
            InputIds = null,
            InputsEmbeds = cat([virtualEmbeds, embeds], 1),
            TokenTypeIds = classifies && inputs.TokenTypeIds is { } t ? cat([zeros(batch, v, dtype: t.dtype, device: t.device), t], 1) : null,
        };
    }

    internal static Tensor OnesFirst(Tensor mask, long count) =>
        cat([ones(mask.shape[0], count, dtype: mask.dtype, device: mask.device), mask], 1);
}
