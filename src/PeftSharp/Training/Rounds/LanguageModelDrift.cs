using PeftSharp.Data;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using static TorchSharp.torch;

namespace PeftSharp.Training.Rounds;

/// <summary>
/// Forgetting of a language model, as Hugging Face PEFT's method-comparison benchmark measures it: the mean per-token
/// cross-entropy on a fixed general-text sample, each text truncated, only its own tokens counted, the mean weighted by
/// tokens (all next-token losses pooled); forgetting = after − before, with before on the original model.
/// <code>general_loss = Σₜ Σᵢ −log p(xₜ,ᵢ₊₁ | xₜ,≤ᵢ) / Σₜ (|xₜ| − 1)</code>
/// PEFT pads on the left; we pad on the right, where causal attention makes each text's loss exactly its loss alone. (With
/// left padding, a model with learned absolute positions such as GPT-2 sees a padded text at shifted positions unless
/// position ids are derived from the mask; rotary models are unaffected either way.)
/// </summary>
public sealed class LanguageModelDrift(PretrainedModel model, ITextTokenizer tokenizer, IReadOnlyList<string> texts, int maxLength, int batchSize = 4) : IDriftMeasure
{
    public const string LossKey = "general_loss";
    public const string ForgettingKey = "forgetting";

    private readonly List<int[]> _ids = texts.Select(t => tokenizer.Encode(t).Take(maxLength).ToArray()).Where(ids => ids.Length >= 2).ToList();

    public Dictionary<string, Tensor> Reference() => new() { [LossKey] = tensor(new[] { MeanLoss() }) };

    public Dictionary<string, double> Compare(IReadOnlyDictionary<string, Tensor> reference)
    {
        double before = reference[LossKey].item<double>();
        double now = MeanLoss();
        return new() { [LossKey] = now, [ForgettingKey] = now - before };
    }

    /// <summary>The token-weighted mean next-token loss over the texts, in eval mode and without gradients.</summary>
    public double MeanLoss()
    {
        if (_ids.Count == 0) throw new PeftException("forgetting: no general text is 2 tokens or longer");
        using var inference = InferenceScope.Enter(model);
        double sum = 0;
        long count = 0;
        var device = model.Device;
        for (int start = 0; start < _ids.Count; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var rows = _ids.Skip(start).Take(batchSize).ToList();
            int length = rows.Max(r => r.Length);
            var ids = new long[rows.Count * length];
            var mask = new long[ids.Length];
            var labels = Enumerable.Repeat((long)TokenizedExample.IgnoreIndex, ids.Length).ToArray();
            for (int r = 0; r < rows.Count; r++)
                for (int i = 0; i < rows[r].Length; i++)
                {
                    ids[r * length + i] = rows[r][i];
                    mask[r * length + i] = 1;
                    labels[r * length + i] = rows[r][i];
                }
            long[] shape = [rows.Count, length];
            var inputs = new ModelInputs { InputIds = tensor(ids, shape, device: device), AttentionMask = tensor(mask, shape, device: device) };
            foreach (var (s, n) in RowLosses.Compute(model, TaskKind.CausalLm, inputs, tensor(labels, shape, device: device)))
            {
                sum += s;
                count += n;
            }
        }
        return sum / count;
    }
}
