using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using PeftSharp.Interop;
using PeftSharp.Models;
using PeftSharp.Tests.Tokenization;
using PeftSharp.Tuners;

// The interop check (README.md here): adapters PeftSharp trains are read by Python PEFT, adapters Python PEFT trains
// are read by PeftSharp, and both compute the same outputs, unmerged and merged. Prints one table; exit 1 if a row fails.
const double Tolerance = 1e-4;

var repo = FindRepo();
var work = Path.Combine(repo, "artifacts", "interop");
Directory.CreateDirectory(work);
var log = Path.Combine(work, "interop.log");
File.WriteAllText(log, "");
var (stack, problem) = Refstack.Find(repo, log);
if (stack is null)
{
    Console.Error.WriteLine($"interop: {problem}");
    return 2;
}
// Arguments: model keys to run (e.g. `gpt2`), and `--method TEXT` (repeatable) to keep only rows whose method contains TEXT.
var methodFilters = args.Select((a, i) => (a, i)).Where(x => x.a == "--method" && x.i + 1 < args.Length).Select(x => args[x.i + 1]).ToList();
var only = args.Where((a, i) => a != "--method" && (i == 0 || args[i - 1] != "--method")).ToHashSet() is { Count: > 0 } keys ? keys : null;
bool Wanted(string label) => methodFilters.Count == 0 || methodFilters.Any(f => label.Contains(f, StringComparison.Ordinal));
void Say(string text) => Console.Error.WriteLine($"[interop {DateTime.Now:HH:mm:ss}] {text}");

Say("building the peft tool (Release)");
stack.Run("dotnet", ["build", Path.Combine(repo, "src", "PeftSharp.Cli"), "-c", "Release", "-v", "q", "-nologo"], []);

// --- models -----------------------------------------------------------------------------------------------------
var models = Path.Combine(work, "models");
if (!File.Exists(Path.Combine(models, "llama-mqa", "model.safetensors")))
{
    Say("making the small causal LMs with transformers");
    stack.Python("make_models.py", models);
}
foreach (var name in new[] { "gpt2", "llama", "llama-mqa" })
{
    var dir = Path.Combine(models, name);
    foreach (var file in new[] { "vocab.json", "merges.txt" })
        File.Copy(Path.Combine(TokenizerTestData.Gpt2LegacyFolder, file), Path.Combine(dir, file), overwrite: true);
    File.WriteAllText(Path.Combine(dir, "tokenizer_config.json"), """{"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>"}""");
}
var minilm = Path.Combine(models, "minilm");
if (!File.Exists(Path.Combine(minilm, "config.json"))) stack.Peft("import", "minilm", "--out", minilm);
// The classifier as a user has it: a config naming BertForSequenceClassification over a checkpoint without the head.
var minilmCls = Path.Combine(models, "minilm-cls");
Directory.CreateDirectory(minilmCls);
foreach (var f in Directory.GetFiles(minilm)) File.Copy(f, Path.Combine(minilmCls, Path.GetFileName(f)), overwrite: true);
var clsConfig = JsonNode.Parse(File.ReadAllText(Path.Combine(minilm, "config.json")))!.AsObject();
clsConfig["architectures"] = new JsonArray("BertForSequenceClassification");
clsConfig["id2label"] = new JsonObject { ["0"] = "negative", ["1"] = "positive" };
clsConfig["label2id"] = new JsonObject { ["negative"] = 0, ["positive"] = 1 };
File.WriteAllText(Path.Combine(minilmCls, "config.json"), clsConfig.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));

var instructions = Path.Combine(repo, "data", "examples", "instructions.jsonl");
string[] causal = ["--task", "instruction", "--data", instructions, "--max-length", "64", "--batch-size", "4"];
var bases = new List<BaseModel>
{
    new("minilm", minilm, minilmCls, "SEQ_CLS", ["--data", Path.Combine(repo, "data", "uci-sentiment", "uci-sentiment.jsonl"), "--pooling", "cls", "--batch-size", "8", "--max-length", "48"],
        30522, "pooler.dense", new() { ["lora"] = ["query", "value"], ["ia3"] = ["key", "value", "output.dense"], ["ia3_ff"] = ["output.dense"], ["lycoris"] = ["query", "value"], ["ln"] = ["LayerNorm"] }),
    new("gpt2", Path.Combine(models, "gpt2"), Path.Combine(models, "gpt2"), "CAUSAL_LM", causal,
        50257, "lm_head", new() { ["lora"] = ["c_attn"], ["ia3"] = ["c_attn", "mlp.c_proj"], ["ia3_ff"] = ["mlp.c_proj"], ["lycoris"] = ["c_attn"], ["ln"] = ["ln_1", "ln_2", "ln_f"] }),
    new("llama", Path.Combine(models, "llama"), Path.Combine(models, "llama"), "CAUSAL_LM", causal,
        50257, "lm_head", new() { ["lora"] = ["q_proj", "v_proj"], ["ia3"] = ["k_proj", "v_proj", "down_proj"], ["ia3_ff"] = ["down_proj"], ["lycoris"] = ["q_proj", "v_proj"], ["ln"] = ["input_layernorm", "post_attention_layernorm", "norm"] }),
    // Multi-query attention: a prefix has one key/value head (run it with `llama-mqa`; not in the default set).
    new("llama-mqa", Path.Combine(models, "llama-mqa"), Path.Combine(models, "llama-mqa"), "CAUSAL_LM", causal,
        50257, "lm_head", new() { ["lora"] = ["q_proj", "v_proj"], ["ia3"] = ["k_proj", "v_proj", "down_proj"], ["ia3_ff"] = ["down_proj"], ["lycoris"] = ["q_proj", "v_proj"], ["ln"] = ["input_layernorm", "post_attention_layernorm", "norm"] }),
}.Where(b => only is null ? b.Key != "llama-mqa" : only.Contains(b.Key)).ToList();

var rows = new List<Row>();
var jobs = new JsonArray();
var outs = Path.Combine(work, "out");
if (Directory.Exists(outs)) Directory.Delete(outs, recursive: true);
Directory.CreateDirectory(outs);

// One row: our forward passes (unmerged twice, for determinism, and merged) and the two Python jobs to compare with.
// Python loads every adapter given and activates those named in active (all by default); we load the active ones.
void Forward(Row row, BaseModel b, string inputs, IReadOnlyList<(string Path, string Name, string? Subfolder)> adapters, string[]? active = null,
    string[]? quantize = null)
{
    // Prompt-learning adapters have no merged form (both tools refuse to merge them): their rows compare unmerged only.
    var stem = Path.Combine(outs, Slug($"{row.Direction} {b.Key} {row.Method}"));
    var ours = adapters.Where(a => active is null || active.Contains(a.Name)).SelectMany(a => new[] { "--adapter", a.Subfolder is null ? a.Path : Path.Combine(a.Path, a.Subfolder) }).ToArray();
    // A 4-bit base: ours runs on it; Python gets the same base dequantized, and our merged form is peft merge's float model.
    string pythonModel = b.ForwardModel;
    if (quantize != null)
    {
        pythonModel = $"{stem}.base";
        if (Directory.Exists(pythonModel)) Directory.Delete(pythonModel, recursive: true);
        stack.Peft(["merge", "--model", b.ForwardModel, .. quantize, "--out", pythonModel]);
    }
    foreach (var merged in row.Merges ? new[] { false, true } : [false])
    {
        var suffix = merged ? "merged" : "unmerged";
        if (merged && quantize != null)
        {
            var mergedModel = $"{stem}.merged-model";
            if (Directory.Exists(mergedModel)) Directory.Delete(mergedModel, recursive: true);
            stack.Peft(["merge", "--model", b.ForwardModel, .. ours, .. quantize, "--out", mergedModel]);
            stack.Peft(["forward", "--model", mergedModel, "--inputs", inputs, "--out", $"{stem}.{suffix}.safetensors"]);
        }
        else
            stack.Peft(["forward", "--model", b.ForwardModel, .. ours, .. quantize ?? [], .. (merged ? new[] { "--merge" } : []), "--inputs", inputs, "--out", $"{stem}.{suffix}.safetensors"]);
        if (!merged)
        {
            stack.Peft(["forward", "--model", b.ForwardModel, .. ours, .. quantize ?? [], "--inputs", inputs, "--out", $"{stem}.again.safetensors"]);
            row.Deterministic = File.ReadAllBytes($"{stem}.unmerged.safetensors").AsSpan().SequenceEqual(File.ReadAllBytes($"{stem}.again.safetensors"));
        }
        var adapterJson = new JsonArray(adapters.Select(a => (JsonNode)new JsonObject { ["path"] = a.Path, ["name"] = a.Name, ["subfolder"] = a.Subfolder }).ToArray());
        jobs.Add(new JsonObject
        {
            ["id"] = $"{row.Id}:{suffix}", ["model"] = pythonModel, ["inputs"] = inputs, ["merge"] = merged,
            ["ours"] = $"{stem}.{suffix}.safetensors", ["ref"] = $"{stem}.{suffix}.python.safetensors", ["adapters"] = adapterJson,
            ["active"] = active is null ? null : new JsonArray(active.Select(a => (JsonNode)a).ToArray()),
        });
    }
}

void Attempt(Row row, Action action)
{
    rows.Add(row);
    try { action(); }
    catch (InteropFailure e) { row.Error = e.Message; }
}

// --- PeftSharp trains, Python reads ------------------------------------------------------------------------------
var trained = new Dictionary<(string, string), string>();
foreach (var b in bases)
{
    var inputs = WriteInputs(Path.Combine(work, $"inputs-{b.Key}.json"), b.Vocab, b.Key == "minilm");
    // Prompt rows also mix padding sides in one batch (row 0 padded on the right, row 1 on the left), as issue 12 asks.
    var mixed = WriteInputs(Path.Combine(work, $"inputs-{b.Key}-mixed.json"), b.Vocab, b.Key == "minilm", leftPadSecond: true);
    foreach (var m in Cases.Ours(b).Where(m => Wanted(m.Label)))
    {
        var row = new Row("PeftSharp -> PEFT", b.Key, m.Label) { Merges = m.Merges };
        Say($"{b.Key}: training {m.Label}");
        Attempt(row, () =>
        {
            var run = Path.Combine(work, "runs", Slug($"{b.Key} {m.Label}"));
            if (Directory.Exists(run)) Directory.Delete(run, recursive: true);
            stack.Peft(["train", "--model", b.TrainModel, .. b.TrainArgs, .. m.TrainArgs, "--max-steps", "12", "--learning-rate", "5e-3",
                "--warmup-ratio", "0", "--seed", "1", "--output", run]);
            var adapter = Path.Combine(run, "adapter");
            trained[(b.Key, m.Label)] = adapter;
            Forward(row, b, m.Merges ? inputs : mixed, [(adapter, PeftModel.DefaultAdapter, null)], quantize: m.Quantize);
        });
    }
    // Several adapters saved from one PeftModel: the first at the root, the other in a subfolder named after it.
    if (trained.TryGetValue((b.Key, "lora"), out var first) && trained.TryGetValue((b.Key, "lora rslora"), out var second))
    {
        var multi = Path.Combine(work, "multi", b.Key);
        Attempt(new Row("PeftSharp -> PEFT", b.Key, TwoAdapters(b)), () =>
        {
            SaveTwoAdapters(b.ForwardModel, first, second, multi);
            Forward(rows[^1], b, inputs, [(multi, PeftModel.DefaultAdapter, null), (multi, "second", "second")], ActiveOfTwo(b));
        });
        Attempt(new Row("PeftSharp -> PEFT", b.Key, "subfolder adapter alone"), () => Forward(rows[^1], b, inputs, [(multi, "second", "second")]));
    }
}

// --- Python trains (dropout on), PeftSharp reads -----------------------------------------------------------------
var pyJobs = new JsonArray();
var pyAdapters = new List<(BaseModel Base, Method Method, string Dir)>();
foreach (var b in bases)
{
    foreach (var m in Cases.Python(b).Where(m => Wanted(m.Label)))
    {
        var dir = Path.Combine(work, "python", Slug($"{b.Key} {m.Label}"));
        pyAdapters.Add((b, m, dir));
        pyJobs.Add(new JsonObject
        {
            ["base"] = b.ForwardModel, ["out"] = dir, ["seed"] = 2, ["steps"] = 4, ["lr"] = 1e-2,
            ["adapters"] = new JsonArray(new JsonObject { ["name"] = "default", ["config"] = m.PythonConfig!(b) }),
        });
    }
    if (!Wanted(TwoAdapters(b))) continue;
    var multiDir = Path.Combine(work, "python", Slug($"{b.Key} two adapters"));
    var lora = Cases.Python(b)[0].PythonConfig!(b);
    var rs = Cases.Python(b)[2].PythonConfig!(b);
    pyAdapters.Add((b, new Method(TwoAdapters(b), []), multiDir));
    pyJobs.Add(new JsonObject
    {
        ["base"] = b.ForwardModel, ["out"] = multiDir, ["seed"] = 3, ["steps"] = 4, ["lr"] = 1e-2,
        ["adapters"] = new JsonArray(new JsonObject { ["name"] = "default", ["config"] = lora }, new JsonObject { ["name"] = "second", ["config"] = rs }),
    });
}
var pyJobsPath = Path.Combine(work, "python-train.json");
File.WriteAllText(pyJobsPath, pyJobs.ToJsonString());
Say($"Python PEFT trains {pyJobs.Count} adapters");
string? pythonTrainError = null;
if (pyJobs.Count > 0)
    try { stack.Python("train_peft.py", pyJobsPath); } catch (InteropFailure e) { pythonTrainError = e.Message; }
foreach (var (b, m, dir) in pyAdapters)
{
    var inputs = Path.Combine(work, m.Merges ? $"inputs-{b.Key}.json" : $"inputs-{b.Key}-mixed.json");
    var row = new Row("PEFT -> PeftSharp", b.Key, m.Label) { Error = pythonTrainError, Merges = m.Merges };
    if (pythonTrainError != null) { rows.Add(row); continue; }
    Say($"{b.Key}: reading Python's {m.Label}");
    var adapters = m.Label.StartsWith("two", StringComparison.Ordinal)
        ? new List<(string, string, string?)> { (dir, PeftModel.DefaultAdapter, null), (dir, "second", "second") }
        : [(dir, PeftModel.DefaultAdapter, null)];
    Attempt(row, () => Forward(row, b, inputs, adapters, adapters.Count > 1 ? ActiveOfTwo(b) : null));
}

// --- Python's forward passes and the differences ------------------------------------------------------------------
var jobsPath = Path.Combine(work, "python-check.json");
var resultsPath = Path.Combine(work, "python-results.json");
File.WriteAllText(jobsPath, jobs.ToJsonString());
Say($"Python PEFT runs {jobs.Count} forward passes");
stack.Python("check.py", jobsPath, resultsPath);
var results = JsonNode.Parse(File.ReadAllText(resultsPath))!.AsObject();
foreach (var row in rows)
{
    row.Unmerged = results[$"{row.Id}:unmerged"];
    row.Merged = results[$"{row.Id}:merged"];
}

// --- the table ------------------------------------------------------------------------------------------------------
Console.WriteLine($"| direction | model | method | unmerged: max rel diff | merged: max rel diff | forward twice | result (1e-4) |");
Console.WriteLine("|---|---|---|---:|---:|---|---|");
foreach (var r in rows)
    Console.WriteLine($"| {r.Direction} | {r.Model} | {r.Method} | {Cell(r.Unmerged)} | {(r.Merges ? Cell(r.Merged) : "n/a")} | {(r.Deterministic is null ? "-" : r.Deterministic.Value ? "identical" : "DIFFERENT")} | {r.Verdict(Tolerance)} |");
int failed = rows.Count(r => !r.Passed(Tolerance));
Console.WriteLine();
Console.WriteLine($"{rows.Count - failed} of {rows.Count} rows pass; max rel diff = max |ours - python| / (1 + |python|) over unpadded positions of every output; log: {log}");
return failed == 0 ? 0 : 1;

static string Cell(JsonNode? r) =>
    r is null ? "-" : r["error"] is { } e && e.GetValueKind() == JsonValueKind.String ? "error" : r["rel"]?.GetValue<double>().ToString("0.0e0", CultureInfo.InvariantCulture) ?? "-";

// Two classifiers cannot be active at once (each has its own head copy; PEFT and we refuse): load both, run the second.
static string[]? ActiveOfTwo(BaseModel b) => b.TaskType == "SEQ_CLS" ? ["second"] : null;
static string TwoAdapters(BaseModel b) => b.TaskType == "SEQ_CLS" ? "two adapters, one folder (second active)" : "two adapters, one folder (both active)";

static string Slug(string s) => string.Concat(s.Select(c => char.IsLetterOrDigit(c) || c is '_' or '.' ? c : '-'));

static string FindRepo()
{
    for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
        if (File.Exists(Path.Combine(d.FullName, "PeftSharp.sln"))) return d.FullName;
    throw new InvalidOperationException("run from inside the PeftSharp checkout");
}

/// <summary>Two rows of token ids, the second with its last three positions padded (attention 0); with
/// leftPadSecond the first row has its last two padded and the second its first three: both sides in one batch.</summary>
static string WriteInputs(string path, int vocab, bool tokenTypes, bool leftPadSecond = false)
{
    var random = new Random(7);
    int[][] ids = [Enumerable.Range(0, 12).Select(_ => random.Next(1, vocab - 1)).ToArray(), Enumerable.Range(0, 12).Select(_ => random.Next(1, vocab - 1)).ToArray()];
    int[][] mask = leftPadSecond
        ? [Enumerable.Range(0, 12).Select(i => i < 10 ? 1 : 0).ToArray(), Enumerable.Range(0, 12).Select(i => i >= 3 ? 1 : 0).ToArray()]
        : [Enumerable.Repeat(1, 12).ToArray(), Enumerable.Range(0, 12).Select(i => i < 9 ? 1 : 0).ToArray()];
    var o = new Dictionary<string, int[][]> { ["input_ids"] = ids, ["attention_mask"] = mask };
    if (tokenTypes) o["token_type_ids"] = [new int[12], new int[12]];
    File.WriteAllText(path, JsonSerializer.Serialize(o));
    return path;
}

/// <summary>Loads two of our trained adapters into one PeftModel and saves them together, as a library user would.</summary>
static void SaveTwoAdapters(string modelDir, string first, string second, string dir)
{
    if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
    try
    {
        using var model = AutoModel.FromPretrained(modelDir);
        var peft = PeftModel.Load(model, first);
        peft.LoadAdapter(second, "second");
        peft.Save(dir);
    }
    catch (PeftSharp.PeftException e) { throw new InteropFailure(e.Message); }
}

/// <summary>One line of the table.</summary>
internal sealed class Row(string direction, string model, string method)
{
    public string Direction => direction;
    public string Model => model;
    public string Method => method;
    public string Id => $"{direction}|{model}|{method}";
    public string? Error { get; set; }
    public bool? Deterministic { get; set; }
    public JsonNode? Unmerged { get; set; }
    public JsonNode? Merged { get; set; }
    /// <summary>False for methods with no merged form (prompt learning): the merged column does not apply.</summary>
    public bool Merges { get; init; } = true;

    public bool Passed(double tolerance) => Error is null && Deterministic == true && Ok(Unmerged, tolerance) && (!Merges || Ok(Merged, tolerance));

    public string Verdict(double tolerance) =>
        Passed(tolerance) ? "pass"
        : (Error ?? Problem(Unmerged) ?? Problem(Merged)) is { } why ? $"FAIL: {why.Replace('|', '/')}"
        : Deterministic != true ? "FAIL: two forward passes differ" : "FAIL: over tolerance";

    private static bool Ok(JsonNode? r, double tolerance) => r is not null && Problem(r) is null && r["rel"]?.GetValue<double>() <= tolerance;

    private static string? Problem(JsonNode? r) => r?["error"] is { } e && e.GetValueKind() == JsonValueKind.String ? e.GetValue<string>() : null;
}
