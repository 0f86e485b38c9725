using System.Text.RegularExpressions;

namespace PeftSharp.Tokenization;

/// <summary>One message of a conversation, as Hugging Face chat data writes it.</summary>
public sealed record ChatMessage(string Role, string Content);

/// <summary>A piece of a rendered conversation; <see cref="Learned"/> marks an assistant's answer and its end-of-turn marker.</summary>
public readonly record struct ChatSegment(string Text, bool Learned);

/// <summary>
/// A model's chat template (tokenizer_config.json's <c>chat_template</c>, or chat_template.jinja) for the families
/// PeftSharp can render: ChatML (Qwen1.5, Qwen2), Llama-3 (3.0; not 3.1+, whose template adds a dated
/// system header), Llama-2 (<c>[INST]</c> with <c>&lt;&lt;SYS&gt;&gt;</c>), Mistral (<c>[INST]</c> without a system
/// role) and Zephyr. No .NET package renders Jinja2 as transformers does, and running an arbitrary template would mean
/// running code from a file, so the family is recognised from the template's text and rendered here, giving the text
/// <c>apply_chat_template(..., tokenize=False)</c> gives. Templates of other families are refused by name.
/// </summary>
public sealed class ChatTemplate
{
    public const string ChatMl = "chatml";
    public const string Llama3 = "llama-3";
    public const string Llama2 = "llama-2";
    public const string Mistral = "mistral";
    public const string Zephyr = "zephyr";

    /// <summary>The families by the names <c>template</c> accepts.</summary>
    public static IReadOnlyList<string> Families { get; } = [ChatMl, Llama3, Llama2, Mistral, Zephyr];

    /// <summary>The families in words, for messages and docs.</summary>
    public const string FamiliesInWords = "ChatML (as Qwen2), Llama-3, Llama-2 and Mistral [INST], Zephyr";

    // Template features that change the text in ways these renderings do not reproduce.
    private static readonly string[] Unsupported = ["<think>", "Cutting Knowledge Date", "[AVAILABLE_TOOLS]", "[SYSTEM_PROMPT]"];

    private static readonly Regex ChatMlDefaultSystem = new(@"<\|im_start\|>system(?:\\n|\n)([^'""{}<]+)<\|im_end\|>", RegexOptions.CultureInvariant);

    private readonly string _bos;
    private readonly string _eos;
    private readonly bool _spaceAfterEos;

    private ChatTemplate(string name, string bos, string eos, string? defaultSystem = null, bool spaceAfterEos = false)
    {
        Name = name;
        _bos = bos;
        _eos = eos;
        DefaultSystem = defaultSystem;
        _spaceAfterEos = spaceAfterEos;
    }

    /// <summary>The family: one of <see cref="Families"/>.</summary>
    public string Name { get; }

    /// <summary>The system message ChatML templates such as Qwen2's add when a conversation has none.</summary>
    public string? DefaultSystem { get; }

    /// <summary>The text that ends an assistant's turn, where generation should stop.</summary>
    public string EndOfTurn => Name switch { ChatMl => "<|im_end|>", Llama3 => "<|eot_id|>", _ => _eos };

    /// <summary>A family by name with the tokenizer's BOS and EOS texts.</summary>
    public static ChatTemplate Named(string family, string bos = "<s>", string eos = "</s>", string? defaultSystem = null) =>
        Families.Contains(family) ? new ChatTemplate(family, bos, eos, defaultSystem)
            : throw new PeftException($"chat template \"{family}\" is not one of {string.Join(", ", Families)}");

    /// <summary>A family by name with the BOS and EOS texts of a model folder's tokenizer files.</summary>
    public static ChatTemplate NamedFor(string family, string modelDir)
    {
        var config = TokenizerConfig.Load(modelDir);
        // The model's own template may be this family with a default system message (Qwen2's); keep it then.
        var own = ReadTemplate(modelDir).Text is { } text ? Recognise(text) : null;
        return Named(family, config.Role("bos_token") ?? "<s>", config.Role("eos_token") ?? "</s>", own?.Name == family ? own.DefaultSystem : null);
    }

    /// <summary>The family a Jinja chat template is written for, or null when it is none that PeftSharp renders.</summary>
    public static ChatTemplate? Recognise(string jinja, string bos = "<s>", string eos = "</s>")
    {
        ArgumentNullException.ThrowIfNull(jinja);
        if (Unsupported.Any(m => jinja.Contains(m, StringComparison.Ordinal))) return null;
        if (jinja.Contains("<|im_start|>", StringComparison.Ordinal))
        {
            var m = ChatMlDefaultSystem.Match(jinja);
            return new ChatTemplate(ChatMl, bos, eos, m.Success ? m.Groups[1].Value.Replace("\\n", "\n", StringComparison.Ordinal) : null);
        }
        if (jinja.Contains("<|start_header_id|>", StringComparison.Ordinal) && jinja.Contains("<|eot_id|>", StringComparison.Ordinal))
            return new ChatTemplate(Llama3, bos, eos);
        if (jinja.Contains("[INST]", StringComparison.Ordinal))
            return jinja.Contains("<<SYS>>", StringComparison.Ordinal)
                ? new ChatTemplate(Llama2, bos, eos)
                : new ChatTemplate(Mistral, bos, eos, spaceAfterEos: jinja.Contains("eos_token + ' '", StringComparison.Ordinal));
        if (jinja.Contains("<|user|>", StringComparison.Ordinal) && jinja.Contains("<|assistant|>", StringComparison.Ordinal))
            return new ChatTemplate(Zephyr, bos, eos);
        return null;
    }

    /// <summary>
    /// The model folder's chat template (chat_template.jinja, else tokenizer_config.json's chat_template), null when it
    /// has none; a template of a family PeftSharp does not render is an error naming the file and the families it does.
    /// </summary>
    public static ChatTemplate? FromFolder(string modelDir)
    {
        var (text, file) = ReadTemplate(modelDir);
        if (text is null) return null;
        var config = TokenizerConfig.Load(modelDir);
        return Recognise(text, config.Role("bos_token") ?? "<s>", config.Role("eos_token") ?? "</s>")
            ?? throw new PeftException($"{file}: the model's chat_template is not one PeftSharp can render (it renders {FamiliesInWords}); " +
                $"set template to one of {string.Join(", ", Families)}, or plain for PeftSharp's own \"### role:\" text");
    }

    private static (string? Text, string File) ReadTemplate(string modelDir)
    {
        var jinja = Path.Combine(modelDir, "chat_template.jinja");
        if (File.Exists(jinja)) return (File.ReadAllText(jinja), jinja);
        var configFile = Path.Combine(modelDir, "tokenizer_config.json");
        if (!File.Exists(configFile)) return (null, configFile);
        var node = JsonNode.Load(configFile).Get("chat_template");
        if (node is not { } t) return (null, configFile);
        if (t.Kind == System.Text.Json.JsonValueKind.String) return (t.AsString(), configFile);
        // Newer files list named templates; "default" is the one apply_chat_template uses.
        foreach (var item in t.Items())
            if (item.GetString("name") == "default") return (item.RequireString("template"), configFile);
        throw t.Error("has no template named \"default\"");
    }

    /// <summary>The conversation's text, as apply_chat_template renders it (BOS text included where the template writes it).</summary>
    public string RenderText(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt) =>
        string.Concat(Render(messages, addGenerationPrompt).Select(s => s.Text));

    /// <summary>The conversation in pieces: what the assistant says (and the marker ending its turn) is learned, the rest is not.</summary>
    public IReadOnlyList<ChatSegment> Render(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var s = new List<ChatSegment>();
        void Text(string t) => s.Add(new ChatSegment(t, false));
        void Learn(string t) => s.Add(new ChatSegment(t, true));
        switch (Name)
        {
            case ChatMl:
                if (DefaultSystem != null && (messages.Count == 0 || messages[0].Role != "system")) Text($"<|im_start|>system\n{DefaultSystem}<|im_end|>\n");
                foreach (var m in messages)
                {
                    if (m.Role == "assistant") { Text("<|im_start|>assistant\n"); Learn(m.Content + "<|im_end|>"); Text("\n"); }
                    else Text($"<|im_start|>{m.Role}\n{m.Content}<|im_end|>\n");
                }
                if (addGenerationPrompt) Text("<|im_start|>assistant\n");
                break;
            case Llama3:
                for (int i = 0; i < messages.Count; i++)
                {
                    var header = (i == 0 ? _bos : "") + $"<|start_header_id|>{messages[i].Role}<|end_header_id|>\n\n";
                    if (messages[i].Role == "assistant") { Text(header); Learn(messages[i].Content.Trim() + "<|eot_id|>"); }
                    else Text(header + messages[i].Content.Trim() + "<|eot_id|>");
                }
                if (addGenerationPrompt) Text("<|start_header_id|>assistant<|end_header_id|>\n\n");
                break;
            case Llama2:
            {
                string? system = messages.Count > 0 && messages[0].Role == "system" ? messages[0].Content : null;
                var turns = system is null ? messages : messages.Skip(1).ToList();
                CheckAlternating(turns);
                for (int i = 0; i < turns.Count; i++)
                {
                    var content = i == 0 && system != null ? $"<<SYS>>\n{system}\n<</SYS>>\n\n{turns[i].Content}" : turns[i].Content;
                    if (turns[i].Role == "user") Text($"{_bos}[INST] {content.Trim()} [/INST]");
                    else { Text(" "); Learn($"{content.Trim()} {_eos}"); }
                }
                break;
            }
            case Mistral:
                CheckAlternating(messages);
                Text(_bos);
                foreach (var m in messages)
                {
                    if (m.Role == "user") Text($"[INST] {m.Content} [/INST]");
                    else { Learn(m.Content + _eos); if (_spaceAfterEos) Text(" "); }
                }
                break;
            case Zephyr:
                foreach (var m in messages)
                {
                    if (m.Role == "assistant") { Text("<|assistant|>\n"); Learn(m.Content + _eos); Text("\n"); }
                    else if (m.Role is "user" or "system") Text($"<|{m.Role}|>\n{m.Content}{_eos}\n");
                }
                if (addGenerationPrompt && messages.Count > 0) Text("<|assistant|>\n");
                break;
        }
        return s;
    }

    /// <summary>The [INST] templates raise an exception unless user and assistant take turns, starting with the user.</summary>
    private void CheckAlternating(IReadOnlyList<ChatMessage> turns)
    {
        for (int i = 0; i < turns.Count; i++)
            if (turns[i].Role != (i % 2 == 0 ? "user" : "assistant"))
                throw new PeftException($"the {Name} chat template needs user and assistant messages in turn, starting with the user " +
                    (Name == Llama2 ? "(after an optional system message)" : "(it has no system role)") + $"; message {i + 1} is \"{turns[i].Role}\"");
    }
}
