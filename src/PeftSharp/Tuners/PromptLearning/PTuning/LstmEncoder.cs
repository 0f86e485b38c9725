using TorchSharp;
using static TorchSharp.torch;

namespace PeftSharp.Tuners.PromptLearning.PTuning;

/// <summary>
/// P-tuning's LSTM prompt encoder (PEFT's PromptEncoder with encoder_reparameterization_type LSTM): a bidirectional
/// torch.nn.LSTM of encoder_num_layers layers over the V virtual-token embeddings as one sequence, then
/// Linear(2h, 2h) → ReLU → Linear(2h, token_dim). Per layer and direction, with PyTorch's gate order (i, f, g, o):
/// <code>
/// [i f g o] = x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh
/// c_t = σ(f) ⊙ c_{t-1} + σ(i) ⊙ tanh(g),   h_t = σ(o) ⊙ tanh(c_t)      (h_0 = c_0 = 0)
/// </code>
/// the reverse direction reads the sequence back to front; a layer's output is [forward h_t ; reverse h_t], and
/// encoder_dropout acts on it between layers while training. Written out over named tensors (PyTorch's own names:
/// lstm_head.weight_ih_l0, ..._reverse) because an adapter's part holds tensors, not modules; the sequence is a few
/// dozen positions, so the step loop costs nothing next to the model.
/// </summary>
public static class LstmEncoder
{
    public const string Lstm = PromptAdapter.EncoderPrefix + "lstm_head.";
    public static readonly string[] Mlp = [PromptAdapter.EncoderPrefix + "mlp_head.0", PromptAdapter.EncoderPrefix + "mlp_head.2"];

    /// <summary>The encoder's tensors, initialised as torch.nn.LSTM and torch.nn.Linear are (uniform ±1/√fan).</summary>
    public static IEnumerable<(string Key, Tensor Initial)> Create(long dim, long hidden, int layers, Device device)
    {
        using (var lstm = nn.LSTM(dim, hidden, numLayers: layers, bidirectional: true, batchFirst: true, device: device))
            foreach (var (name, p) in lstm.named_parameters())
                yield return (Lstm + name, p.detach().clone());
        foreach (var t in PromptAdapter.Linear(Mlp[0], 2 * hidden, 2 * hidden, device)) yield return t;
        foreach (var t in PromptAdapter.Linear(Mlp[1], 2 * hidden, dim, device)) yield return t;
    }

    /// <summary>The [V, token_dim] prompt from the [V, token_dim] input embeddings.</summary>
    public static Tensor Forward(IReadOnlyDictionary<string, Tensor> t, Tensor embeddings, int layers, double dropout, bool training)
    {
        var x = embeddings;
        for (int layer = 0; layer < layers; layer++)
        {
            if (layer > 0 && dropout > 0) x = nn.functional.dropout(x, dropout, training);
            x = cat([Direction(t, x, $"l{layer}", reverse: false), Direction(t, x, $"l{layer}_reverse", reverse: true)], 1);
        }
        x = PromptAdapter.ApplyLinear(t, Mlp[0], x).relu();
        return PromptAdapter.ApplyLinear(t, Mlp[1], x);
    }

    private static Tensor Direction(IReadOnlyDictionary<string, Tensor> t, Tensor x, string suffix, bool reverse)
    {
        var wIh = PromptAdapter.Get(t, Lstm + "weight_ih_" + suffix);
        var wHh = PromptAdapter.Get(t, Lstm + "weight_hh_" + suffix);
        var b = PromptAdapter.Get(t, Lstm + "bias_ih_" + suffix) + PromptAdapter.Get(t, Lstm + "bias_hh_" + suffix);
        long steps = x.shape[0], hidden = wHh.shape[1];
        // The input part of every step at once; only the recurrent part is sequential.
        var inputs = nn.functional.linear(x, wIh, b);
        var h = zeros(hidden, dtype: x.dtype, device: x.device);
        var c = zeros(hidden, dtype: x.dtype, device: x.device);
        var outputs = new Tensor[steps];
        for (long s = 0; s < steps; s++)
        {
            long i = reverse ? steps - 1 - s : s;
            var gates = (inputs[i] + wHh.matmul(h)).chunk(4);
            c = gates[1].sigmoid() * c + gates[0].sigmoid() * gates[2].tanh();
            h = gates[3].sigmoid() * c.tanh();
            outputs[i] = h;
        }
        return stack(outputs);
    }
}
