using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using PeftSharp.Generation;
using PeftSharp.IO;
using PeftSharp.Models;
using PeftSharp.Tokenization;
using PeftSharp.Training;

namespace PeftSharp.Cli.Commands;

/// <summary><c>peft generate</c>: continue a prompt with a model (and adapters): greedy by default, or sampled.</summary>
public static class GenerateCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var adapters = CommonOptions.Adapters();
        var prompt = new Option<string[]>("--prompt", "-p") { Description = "Prompt text (needs tokenizer files in the model folder); repeatable: one batch row each" };
        var promptIds = new Option<string[]>("--prompt-ids") { Description = "Prompt as comma-separated token ids, e.g. 1,2,3; repeatable: one batch row each" };
        var rows = CommonOptions.RowAdapters();
        rows.Description += ". One per prompt, or one prompt for every row (the same prompt through each adapter)";
        var maxNew = new Option<int>("--max-new-tokens") { Description = "Tokens to generate at most", DefaultValueFactory = _ => 32 };
        var greedy = new Option<bool>("--greedy") { Description = "Always take the most likely token (the default unless a sampling option is given)" };
        var temperature = new Option<double?>("--temperature") { Description = "Sample with this temperature" };
        var topP = new Option<double?>("--top-p") { Description = "Sample from the smallest set of tokens with this total probability" };
        var topK = new Option<int?>("--top-k") { Description = "Sample from the k most likely tokens" };
        var repetition = new Option<double>("--repetition-penalty") { Description = "Above 1 discourages repeating tokens", DefaultValueFactory = _ => 1.0 };
        var stop = new Option<string?>("--stop-ids") { Description = "Comma-separated token ids that end generation (default: the model's EOS; 'none' to never stop)" };
        var seed = new Option<long?>("--seed") { Description = "Seed for sampling" };
        var json = new Option<bool>("--json") { Description = "Print prompt ids, new ids and text as JSON" };
        var template = CommonOptions.FromSchema(nameof(TrainingOptions.Template),
            ". Here: how --prompt is shown to the model; default: the adapter's recorded template, else the prompt as given; none: the prompt as given");
        var device = CommonOptions.Device();
        var quantization = CommonOptions.Quantization();
        var cmd = new Command("generate", "Generate text from a prompt with a model and optional adapters")
        {
            model, adapters, prompt, promptIds, rows, maxNew, greedy, temperature, topP, topK, repetition, stop, seed, json, template, device,
        };
        quantization.AddTo(cmd);
        cmd.SetAction(r => CommandRunner.Run(() =>
        {
            bool sampling = r.GetValue(temperature) != null || r.GetValue(topP) != null || r.GetValue(topK) != null;
            if (sampling && r.GetValue(greedy)) throw new PeftException("--greedy cannot be combined with --temperature, --top-p or --top-k");
            var options = new GenerationOptions
            {
                MaxNewTokens = r.GetValue(maxNew),
                DoSample = sampling,
                Temperature = r.GetValue(temperature) ?? 1.0,
                TopP = r.GetValue(topP) ?? 1.0,
                TopK = r.GetValue(topK) ?? 0,
                RepetitionPenalty = r.GetValue(repetition),
                Seed = r.GetValue(seed),
            };
            return Run(r.GetValue(model)!, r.GetValue(adapters) ?? [], r.GetValue(prompt) ?? [], r.GetValue(promptIds) ?? [], CommonOptions.ParseRowAdapters(r.GetValue(rows)),
                r.GetValue(stop), options, r.GetValue(json),
                r.GetValue(template), r.GetValue(device), quantization.Read(r));
        }));
        return cmd;
    }

    private static int Run(string modelDir, string[] adapters, string[] prompts, string[] promptIds, string[]? rowAdapters, string? stopIds, GenerationOptions options,
        bool json, string? templateOption, string? deviceName, Models.Quantization.QuantizationConfig? quantization)
    {
        if ((prompts.Length == 0) == (promptIds.Length == 0)) throw new PeftException("give --prompt or --prompt-ids (one or more), not both");
        if (templateOption != null && prompts.Length == 0) throw new PeftException("--template applies to --prompt text, not to --prompt-ids");
        int count = Math.Max(prompts.Length, promptIds.Length);
        if (rowAdapters != null && count != 1 && count != rowAdapters.Length)
            throw new PeftException($"--row-adapters names {rowAdapters.Length} adapter(s) for {count} prompt(s): give one prompt per adapter, or one prompt for all");
        int batch = rowAdapters?.Length ?? count;
        string? first = AdapterLoading.FirstFolder(adapters);
        var info = first != null ? TaskInfo.Read(first) : null;
        if (first != null && TaskInference.Resolve(null, first, null, modelDir) is { Task: "classification" } classifier)
            throw new PeftException($"{first} is a classification adapter (from {classifier.From}); generate continues text: use peft predict --model {modelDir} --adapter {first} --text ...");
        var device = Devices.Parse(deviceName);
        using var model = BaseModelLoading.Load(modelDir, device, quantization: quantization);
        var peft = AdapterLoading.Load(model, adapters, merge: false);
        if (rowAdapters != null && peft == null) throw new PeftException("--row-adapters names an adapter per row: load them with --adapter NAME=FOLDER");
        ITextTokenizer? tokenizer = prompts.Length > 0 || HasTokenizer(modelDir) ? AutoTokenizer.FromFolder(modelDir) : null;
        string? chat = InstructionFormat.ChatOf(templateOption, info?.ChatTemplate);
        var given = promptIds.Length > 0 ? promptIds.Select(p => ParseIds(p, "--prompt-ids")).ToList()
            : prompts.Select(p => PromptIds(tokenizer!, p, templateOption, info, chat, modelDir)).ToList();
        long vocab = model.InputEmbeddings.weight!.shape[0];
        if (given.Any(ids => ids.Length == 0)) throw new PeftException("a prompt has no tokens");
        if (given.Any(ids => ids.Any(i => i < 0 || i >= vocab))) throw new PeftException($"prompt ids must be in [0, {vocab})");
        var batchIds = Enumerable.Range(0, batch).Select(r => (IReadOnlyList<long>)given[given.Count == 1 ? 0 : r]).ToList();

        var eos = EosIds(modelDir, model);
        // A chat template's end-of-turn marker (<|im_end|>, <|eot_id|>) ends the answer as EOS would.
        if (chat is { } family && family != InstructionFormat.Plain && tokenizer != null
            && tokenizer.Encode(ChatTemplate.NamedFor(family, modelDir).EndOfTurn, addSpecialTokens: false) is [var endOfTurn] && !eos.Contains(endOfTurn))
            eos = [.. eos, endOfTurn];
        options = options with
        {
            StopTokenIds = stopIds == null ? eos : stopIds == "none" ? [] : ParseIds(stopIds, "--stop-ids"),
            PadTokenId = model.Config.PadTokenId ?? eos.FirstOrDefault(),
        };
        long[][] produced;
        using (rowAdapters != null ? peft!.WithRowAdapters(rowAdapters) : null) produced = Generator.Generate(model, batchIds, options);
        var results = produced.Select((p, r) => new
        {
            adapter = rowAdapters?[r],
            prompt_ids = batchIds[r],
            new_token_ids = p,
            text = tokenizer?.Decode(p.Select(i => (int)i), skipSpecialTokens: true),
        }).ToList();
        var indented = new JsonSerializerOptions { WriteIndented = true };
        if (batch == 1)
        {
            var one = results[0];
            Console.WriteLine(json ? JsonSerializer.Serialize(new { one.prompt_ids, one.new_token_ids, one.text }, indented) : one.text ?? string.Join(",", one.new_token_ids));
        }
        else if (json) Console.WriteLine(JsonSerializer.Serialize(results, indented));
        else
            foreach (var (row, r) in results.Select((x, r) => (x, r)))
                Console.WriteLine($"[{row.adapter ?? $"row {r}"}] {row.text ?? string.Join(",", row.new_token_ids)}");
        return 0;
    }

    /// <summary>
    /// The prompt's ids as training saw such text: in the adapter's (or --template's) template, BOS first when the tokenizer
    /// adds one, except that a chat template writes its own BOS.
    /// </summary>
    private static long[] PromptIds(ITextTokenizer tokenizer, string prompt, string? option, TaskInfo? info, string? chat, string modelDir)
    {
        bool templated = option != null ? option != InstructionFormat.None : info?.Template != null || info?.ChatTemplate != null;
        if (!templated) return tokenizer.Encode(prompt).Select(i => (long)i).ToArray();
        var text = InstructionFormat.PromptText(prompt, option, info?.Template, info?.ChatTemplate, modelDir);
        Console.Error.WriteLine($"peft: prompt template: {chat ?? "prompt/completion"} ({(option != null ? "--template" : "the adapter's")})");
        var special = tokenizer.AddSpecialTokens([]);
        bool bos = (chat is null || chat == InstructionFormat.Plain) && special.Count > 0 && special[0] == tokenizer.BosTokenId;
        var ids = tokenizer.Encode(text, addSpecialTokens: false).Select(i => (long)i);
        return (bos ? ids.Prepend(tokenizer.BosTokenId!.Value) : ids).ToArray();
    }

    private static bool HasTokenizer(string dir) =>
        new[] { "tokenizer.json", "vocab.json", "vocab.txt", "tokenizer.model", "spiece.model" }.Any(f => File.Exists(Path.Combine(dir, f)));

    /// <summary>eos_token_id of generation_config.json (an id or a list), else of config.json.</summary>
    private static long[] EosIds(string modelDir, PretrainedModel model)
    {
        var path = Path.Combine(modelDir, "generation_config.json");
        if (File.Exists(path))
        {
            var g = JsonConfig.Load(path);
            if (g.Raw("eos_token_id") is System.Text.Json.Nodes.JsonArray) return g.GetIntList("eos_token_id")!.Select(i => (long)i).ToArray();
            if (g.GetInt("eos_token_id", null) is { } one) return [one];
        }
        return model.Config.EosTokenId is { } e ? [e] : [];
    }

    private static long[] ParseIds(string text, string option) => text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
        .Select(s => long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new PeftException($"{option}: \"{s}\" is not a token id")).ToArray();
}
