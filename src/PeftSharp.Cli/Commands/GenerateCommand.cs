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
        var prompt = new Option<string?>("--prompt", "-p") { Description = "Prompt text (needs tokenizer files in the model folder)" };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as comma-separated token ids, e.g. 1,2,3" };
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
            model, adapters, prompt, promptIds, maxNew, greedy, temperature, topP, topK, repetition, stop, seed, json, template, device,
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
            return Run(r.GetValue(model)!, r.GetValue(adapters) ?? [], r.GetValue(prompt), r.GetValue(promptIds), r.GetValue(stop), options, r.GetValue(json),
                r.GetValue(template), r.GetValue(device), quantization.Read(r));
        }));
        return cmd;
    }

    private static int Run(string modelDir, string[] adapters, string? prompt, string? promptIds, string? stopIds, GenerationOptions options, bool json,
        string? templateOption, string? deviceName, Models.Quantization.QuantizationConfig? quantization)
    {
        if ((prompt == null) == (promptIds == null)) throw new PeftException("give exactly one of --prompt and --prompt-ids");
        if (templateOption != null && prompt == null) throw new PeftException("--template applies to --prompt text, not to --prompt-ids");
        var info = adapters.Length > 0 ? TaskInfo.Read(adapters[0]) : null;
        if (adapters.Length > 0 && TaskInference.Resolve(null, adapters[0], null, modelDir) is { Task: "classification" } classifier)
            throw new PeftException($"{adapters[0]} is a classification adapter (from {classifier.From}); generate continues text: use peft predict --model {modelDir} --adapter {adapters[0]} --text ...");
        var device = Devices.Parse(deviceName);
        using var model = BaseModelLoading.Load(modelDir, device, quantization: quantization);
        AdapterLoading.Load(model, adapters, merge: false);
        ITextTokenizer? tokenizer = prompt != null || HasTokenizer(modelDir) ? AutoTokenizer.FromFolder(modelDir) : null;
        string? chat = InstructionFormat.ChatOf(templateOption, info?.ChatTemplate);
        var ids = promptIds != null ? ParseIds(promptIds, "--prompt-ids") : PromptIds(tokenizer!, prompt!, templateOption, info, chat, modelDir);
        long vocab = model.InputEmbeddings.weight!.shape[0];
        if (ids.Length == 0) throw new PeftException("the prompt has no tokens");
        if (ids.Any(i => i < 0 || i >= vocab)) throw new PeftException($"prompt ids must be in [0, {vocab})");

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
        var produced = Generator.Generate(model, [ids], options)[0];
        string? text = tokenizer?.Decode(produced.Select(i => (int)i), skipSpecialTokens: true);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new { prompt_ids = ids, new_token_ids = produced, text }, new JsonSerializerOptions { WriteIndented = true }));
        }
        else
        {
            Console.WriteLine(text ?? string.Join(",", produced));
        }
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
