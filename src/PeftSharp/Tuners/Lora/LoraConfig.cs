using System.Text.Json.Nodes;
using PeftSharp.IO;

namespace PeftSharp.Tuners.Lora;

/// <summary>
/// LoRA's adapter_config.json: rank, alpha and dropout, targeting, initialisation (default, gaussian,
/// PiSSA, OLoRA), rsLoRA scaling, DoRA, bias handling and per-module rank/alpha patterns. Field names and
/// defaults are PEFT 0.18's, so files move between PeftSharp and Python unchanged.
/// </summary>
public sealed class LoraConfig : PeftConfig
{
    public override string PeftType => "LORA";
    public int R { get; set; } = 8;
    public double LoraAlpha { get; set; } = 8;
    public double LoraDropout { get; set; }
    public TargetSpec Targets { get; set; } = new();
    /// <summary>true (Kaiming A, zero B), false (both random, for tests), "gaussian", "pissa", "pissa_niter_N", "olora".</summary>
    public string InitLoraWeights { get; set; } = "true";
    public bool UseRsLora { get; set; }
    public bool UseDora { get; set; }
    /// <summary>"none", "all" or "lora_only": which base biases train along with the adapter.</summary>
    public string Bias { get; set; } = "none";
    /// <summary>A bias on lora_B.</summary>
    public bool LoraBias { get; set; }
    public bool FanInFanOut { get; set; }
    /// <summary>rank_pattern and alpha_pattern: per-module overrides of r and alpha.</summary>
    public RankAlphaPatterns Patterns { get; set; } = RankAlphaPatterns.Empty;
    /// <summary>
    /// A run-time choice, never written to adapter_config.json: save a PiSSA/OLoRA adapter as trained (with its
    /// init_lora_weights, fitting only the residual base W - s B0 A0) instead of converted to a plain LoRA on the
    /// original base (<see cref="LoraResidualConversion"/>). See <see cref="LoraOptions.SaveResidualForm"/>.
    /// </summary>
    public bool SaveResidualForm { get; set; }

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat([
        "r", "lora_alpha", "lora_dropout", "target_modules", "exclude_modules", "layers_to_transform", "layers_pattern",
        "init_lora_weights", "use_rslora", "use_dora", "bias", "lora_bias", "fan_in_fan_out",
        "rank_pattern", "alpha_pattern",
        // known to PEFT 0.18; accepted only at their defaults (checked in Read)
        "alora_invocation_tokens", "arrow_config", "corda_config", "ensure_weight_tying", "eva_config", "layer_replication",
        "loftq_config", "megatron_config", "megatron_core", "qalora_group_size", "target_parameters", "trainable_token_indices", "use_qalora",
    ]);

    /// <summary>A deep copy through the file format (the run-time <see cref="SaveResidualForm"/> is not carried over).</summary>
    internal LoraConfig Copy() => Read(JsonConfig.Parse(ToJson(), "adapter config"));

    /// <summary>The field names a LoRA config file has (AdaLoRA's file extends them).</summary>
    internal IEnumerable<string> LoraFieldNames() => KnownFields;

    /// <summary>LoRA's fields with this config's values (AdaLoRA writes them too).</summary>
    internal void WriteLoraFields(IDictionary<string, JsonNode?> fields) => WriteFields(fields);

    public static LoraConfig Read(JsonConfig json)
    {
        var c = new LoraConfig();
        c.ReadCommon(json);
        c.R = json.GetInt("r", 8)!.Value;
        if (c.R <= 0) throw new PeftException($"{json.Source}: \"r\" must be positive, got {c.R}");
        c.LoraAlpha = json.GetDouble("lora_alpha", 8)!.Value;
        c.LoraDropout = json.GetDouble("lora_dropout", 0)!.Value;
        if (c.LoraDropout < 0 || c.LoraDropout >= 1) throw new PeftException($"{json.Source}: \"lora_dropout\" must be in [0, 1)");
        c.Targets = TargetSpec.Read(json);
        c.InitLoraWeights = json.Raw("init_lora_weights") switch
        {
            null => "true",
            JsonValue v when v.TryGetValue(out bool b) => b ? "true" : "false",
            _ => json.GetString("init_lora_weights"),
        };
        LoraInit.Validate(c.InitLoraWeights, json.Source);
        c.UseRsLora = json.GetBool("use_rslora", false);
        c.UseDora = json.GetBool("use_dora", false);
        c.Bias = json.GetString("bias", "none")!;
        if (c.Bias is not ("none" or "all" or "lora_only")) throw new PeftException($"{json.Source}: \"bias\" must be none, all or lora_only, got {c.Bias}");
        c.LoraBias = json.GetBool("lora_bias", false);
        c.FanInFanOut = json.GetBool("fan_in_fan_out", false);
        c.Patterns = RankAlphaPatterns.Read(json);
        RequireDefault(json, "layer_replication", "layer replication");
        RequireDefault(json, "loftq_config", "LoftQ initialisation");
        RequireDefault(json, "eva_config", "EVA initialisation");
        RequireDefault(json, "corda_config", "CorDA initialisation");
        RequireDefault(json, "use_qalora", "QA-LoRA");
        RequireDefault(json, "target_parameters", "LoRA on parameters");
        RequireDefault(json, "trainable_token_indices", "trainable tokens");
        RequireDefault(json, "alora_invocation_tokens", "activated LoRA");
        RequireDefault(json, "megatron_config", "Megatron layers");
        RequireDefault(json, "arrow_config", "Arrow routing");
        return c;
    }

    /// <summary>The rank and alpha for one module, after rank_pattern and alpha_pattern.</summary>
    public (int Rank, double Alpha) For(string moduleName) => Patterns.For(moduleName, R, LoraAlpha);

    public double Scaling(int rank, double alpha) => UseRsLora ? alpha / Math.Sqrt(rank) : alpha / rank;

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        f["r"] = R;
        f["lora_alpha"] = RankAlphaPatterns.Number(LoraAlpha);
        f["lora_dropout"] = LoraDropout;
        Targets.Write(f);
        f["init_lora_weights"] = InitLoraWeights switch { "true" => true, "false" => false, var s => s };
        f["use_rslora"] = UseRsLora;
        f["use_dora"] = UseDora;
        f["bias"] = Bias;
        f["lora_bias"] = LoraBias;
        f["fan_in_fan_out"] = FanInFanOut;
        Patterns.Write(f);
        f["alora_invocation_tokens"] = null;
        f["arrow_config"] = null;
        f["corda_config"] = null;
        f["ensure_weight_tying"] = false;
        f["eva_config"] = null;
        f["layer_replication"] = null;
        f["loftq_config"] = new JsonObject();
        f["megatron_config"] = null;
        f["megatron_core"] = "megatron.core";
        f["qalora_group_size"] = 16;
        f["target_parameters"] = null;
        f["trainable_token_indices"] = null;
        f["use_qalora"] = false;
    }

}
