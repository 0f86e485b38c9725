using PeftSharp.IO;
using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Reads model inputs in the fixtures' inputs.json format (input_ids, attention_mask and optional
/// position_ids, token_type_ids, decoder_input_ids as lists of int lists) and checks them before any
/// tensor reaches the model: equal shapes, ids inside the vocabulary, a mask of zeros and ones.
/// </summary>
public static class ModelInputsFile
{
    public static ModelInputs Load(string path, long vocabSize, Device? device = null)
    {
        var json = JsonConfig.Load(path);
        var ids = json.GetIntMatrix("input_ids") ?? throw new PeftException($"{path}: \"input_ids\" is required");
        long rows = ids.Length, cols = ids[0].Length;

        Tensor? Matrix(string key, bool sameShape, Func<long, bool>? valid = null, string? rule = null)
        {
            var m = json.GetIntMatrix(key);
            if (m == null) return null;
            if (sameShape && (m.Length != rows || m[0].Length != cols))
                throw new PeftException($"{path}: \"{key}\" is {m.Length}x{m[0].Length} but input_ids is {rows}x{cols}");
            if (valid != null)
                for (int r = 0; r < m.Length; r++)
                    for (int c = 0; c < m[r].Length; c++)
                        if (!valid(m[r][c])) throw new PeftException($"{path}: \"{key}\"[{r}][{c}] = {m[r][c]}: {rule}");
            return tensor(m.SelectMany(x => x).ToArray(), [m.Length, m[0].Length], dtype: ScalarType.Int64, device: device);
        }

        string vocabRule = $"token ids must be in [0, {vocabSize})";
        return new ModelInputs
        {
            InputIds = Matrix("input_ids", true, v => v >= 0 && v < vocabSize, vocabRule),
            AttentionMask = Matrix("attention_mask", true, v => v is 0 or 1, "attention_mask values must be 0 or 1"),
            PositionIds = Matrix("position_ids", true, v => v >= 0, "positions must be non-negative"),
            TokenTypeIds = Matrix("token_type_ids", true, v => v >= 0, "token type ids must be non-negative"),
            DecoderInputIds = Matrix("decoder_input_ids", false, v => v >= 0 && v < vocabSize, vocabRule),
            DecoderAttentionMask = Matrix("decoder_attention_mask", false, v => v is 0 or 1, "mask values must be 0 or 1"),
        };
    }
}
