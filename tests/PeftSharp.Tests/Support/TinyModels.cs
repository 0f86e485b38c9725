using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Models;
using static TorchSharp.torch;

namespace PeftSharp.Tests.Support;

/// <summary>Small random models from inline configs, for behaviour tests that need no reference file.</summary>
public static class TinyModels
{
    public static string Llama(Action<JsonObject>? edit = null) => Edit("""
        { "model_type": "llama", "vocab_size": 100, "hidden_size": 32, "intermediate_size": 64,
          "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
          "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "tie_word_embeddings": false }
        """, edit);

    public static string Gpt2(Action<JsonObject>? edit = null) => Edit("""
        { "model_type": "gpt2", "vocab_size": 100, "n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 64,
          "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0 }
        """, edit);

    public static string T5(Action<JsonObject>? edit = null) => Edit("""
        { "model_type": "t5", "vocab_size": 100, "d_model": 32, "d_kv": 8, "d_ff": 64, "num_layers": 2,
          "num_heads": 4, "dropout_rate": 0.0, "feed_forward_proj": "gated-gelu", "decoder_start_token_id": 0 }
        """, edit);

    public static string Bert(Action<JsonObject>? edit = null) => Edit("""
        { "model_type": "bert", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
          "intermediate_size": 64, "max_position_embeddings": 64, "hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0 }
        """, edit);

    /// <param name="perturb">Draw every parameter from N(0, 0.2) (norm scales and biases too), so that outputs
    /// depend on all of them; false keeps TorchSharp's default initialisation, a model that trains normally.</param>
    public static PretrainedModel Create(string json, long seed = 1, bool perturb = true)
    {
        manual_seed(seed);
        var model = ModelRegistry.Create(JsonConfig.Parse(json, "test config"));
        using (no_grad())
            foreach (var (_, p) in model.named_parameters())
                if (perturb) p.normal_(0, 0.2);
        model.eval();
        return model;
    }

    /// <summary>Copies every parameter with the same name and shape from one model to another.</summary>
    public static void CopyWeights(PretrainedModel from, PretrainedModel to, Func<string, Tensor, Tensor>? transform = null)
    {
        var source = from.named_parameters().ToDictionary(p => p.name, p => (Tensor)p.parameter);
        using (no_grad())
            foreach (var (name, p) in to.named_parameters())
                p.copy_(transform?.Invoke(name, source[name]) ?? source[name]);
    }

    public static Tensor Ids(long[,] ids) => tensor(ids, dtype: ScalarType.Int64);

    private static string Edit(string json, Action<JsonObject>? edit)
    {
        var node = JsonNode.Parse(json)!.AsObject();
        edit?.Invoke(node);
        return node.ToJsonString();
    }
}
