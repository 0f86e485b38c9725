using System.Text.Json.Nodes;
using PeftSharp.IO;
using PeftSharp.Tuners.Lora;

namespace PeftSharp.Tuners.AdaLora;

/// <summary>
/// AdaLoRA's adapter_config.json (PEFT 0.18): LoRA's fields plus the rank budget schedule (init_r, target_r, tinit,
/// tfinal, deltaT, total_step, beta1, beta2, orth_reg_weight) and, after allocation, rank_pattern: per module the
/// singular values it kept. PeftSharp reads, runs, merges, writes and trains such adapters (the allocator is
/// <see cref="RankAllocator"/>; during training every layer keeps init_r ranks and the masks live in
/// <see cref="RankPattern"/>, which a portable save applies by slicing, as PEFT's save_pretrained).
/// </summary>
public sealed class AdaLoraConfig : PeftConfig
{
    private JsonObject _loraFields = new();

    public override string PeftType => "ADALORA";
    public int InitR { get; set; } = 12;
    public int TargetR { get; set; } = 8;
    public double LoraAlpha { get; set; } = 8;
    public double LoraDropout { get; set; }
    public bool FanInFanOut { get; set; }
    public TargetSpec Targets { get; set; } = new();
    /// <summary>Module name + ".lora_E" to the kept-rank mask; null or empty before allocation.</summary>
    public IReadOnlyDictionary<string, bool[]> RankPattern { get; set; } = new Dictionary<string, bool[]>();
    public bool InitLoraWeights { get; set; } = true;
    public int Tinit { get; set; }
    public int Tfinal { get; set; }
    public int DeltaT { get; set; } = 1;
    public double Beta1 { get; set; } = 0.85;
    public double Beta2 { get; set; } = 0.85;
    public double OrthRegWeight { get; set; } = 0.5;
    /// <summary>Steps of the budget schedule; null until training begins (PEFT refuses null, so a trained adapter always has it).</summary>
    public int? TotalStep { get; set; }

    private static readonly string[] ScheduleFields = ["beta1", "beta2", "deltaT", "init_r", "target_r", "tinit", "tfinal", "total_step", "orth_reg_weight"];

    protected override IEnumerable<string> KnownFields => base.KnownFields.Concat(new LoraConfig().LoraFieldNames()).Concat(ScheduleFields);

    public static AdaLoraConfig Read(JsonConfig json)
    {
        var c = new AdaLoraConfig();
        c.ReadCommon(json);
        c.InitR = json.GetInt("init_r", 12)!.Value;
        c.TargetR = json.GetInt("target_r", 8)!.Value;
        if (c.InitR <= 0) throw new PeftException($"{json.Source}: \"init_r\" must be positive, got {c.InitR}");
        c.LoraAlpha = json.GetDouble("lora_alpha", 8)!.Value;
        c.LoraDropout = json.GetDouble("lora_dropout", 0)!.Value;
        c.FanInFanOut = json.GetBool("fan_in_fan_out", false);
        c.Targets = TargetSpec.Read(json);
        c.InitLoraWeights = json.Raw("init_lora_weights") is not JsonValue v || !v.TryGetValue(out bool b) || b;
        c.Tinit = json.GetInt("tinit", 0)!.Value;
        c.Tfinal = json.GetInt("tfinal", 0)!.Value;
        c.DeltaT = json.GetInt("deltaT", 1)!.Value;
        c.Beta1 = json.GetDouble("beta1", 0.85)!.Value;
        c.Beta2 = json.GetDouble("beta2", 0.85)!.Value;
        c.OrthRegWeight = json.GetDouble("orth_reg_weight", 0.5)!.Value;
        c.TotalStep = json.GetInt("total_step", null);
        if (json.GetBool("use_dora", false)) throw new PeftException($"{json.Source}: AdaLoRA with DoRA is not supported");
        var pattern = json.GetObject("rank_pattern");
        var masks = new Dictionary<string, bool[]>();
        if (pattern != null)
            foreach (var (key, node) in pattern.Root)
                masks[key] = node is JsonArray a
                    ? a.Select((n, i) => n is JsonValue x && x.TryGetValue(out bool keep) ? keep : throw new PeftException($"{json.Source}: rank_pattern.{key}[{i}] must be true or false")).ToArray()
                    : throw new PeftException($"{json.Source}: rank_pattern.{key} must be a list of true/false (AdaLoRA's kept ranks)");
        c.RankPattern = masks;
        // Everything else (schedule and LoRA fields) is written back as read.
        c._loraFields = new JsonObject();
        foreach (var key in new LoraConfig().LoraFieldNames().Concat(ScheduleFields))
            if (json.Root.TryGetPropertyValue(key, out var value)) c._loraFields[key] = value?.DeepClone();
        return c;
    }

    private static bool SameNumber(JsonNode? read, JsonNode? held) => read is null || held is null ? read is null && held is null : Number(read) is { } x && x == Number(held);

    private static double? Number(JsonNode node) =>
        double.TryParse(node.ToJsonString(), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d) ? d : null;

    /// <summary>The rank a module keeps: the number of true entries of its mask, else init_r.</summary>
    public int RankOf(string moduleName) => RankPattern.TryGetValue(moduleName + ".lora_E", out var mask) ? mask.Count(k => k) : InitR;

    protected override void WriteFields(IDictionary<string, JsonNode?> f)
    {
        var defaults = new Dictionary<string, JsonNode?>();
        new LoraConfig { LoraAlpha = LoraAlpha, LoraDropout = LoraDropout, FanInFanOut = FanInFanOut, Targets = Targets }.WriteLoraFields(defaults);
        foreach (var (k, v) in defaults) f[k] = v;
        foreach (var (k, v) in _loraFields) f[k] = v?.DeepClone();
        // The schedule as held; a field read from a file keeps its spelling (1.0 stays 1.0) while its value is unchanged.
        foreach (var (k, v) in new Dictionary<string, JsonNode?>
        {
            ["beta1"] = Beta1, ["beta2"] = Beta2, ["deltaT"] = DeltaT, ["orth_reg_weight"] = OrthRegWeight, ["tinit"] = Tinit, ["tfinal"] = Tfinal,
            ["total_step"] = TotalStep,
        }) if (!_loraFields.TryGetPropertyValue(k, out var read) || !SameNumber(read, v)) f[k] = v;
        f["init_r"] = InitR;
        f["target_r"] = TargetR;
        f["init_lora_weights"] = InitLoraWeights;
        Targets.Write(f);
        var pattern = new JsonObject();
        foreach (var (k, mask) in RankPattern) pattern[k] = new JsonArray(mask.Select(b => (JsonNode?)b).ToArray());
        f["rank_pattern"] = pattern;
    }
}
