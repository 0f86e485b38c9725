using PeftSharp.Data;
using PeftSharp.Tokenization;

namespace PeftSharp.Training;

/// <summary>
/// How instruction records become text, decided from the <c>template</c> option and the model, and recorded in the
/// adapter's task file so that <c>peft generate</c> shows the model prompts the way it was trained on them:
/// <list type="bullet">
/// <item>unset, or a text with <c>{prompt}</c> (and <c>{completion}</c>): prompt/completion records in that template;
/// chat records in the model's own chat template when it has one, else in PeftSharp's plain "### role:" text;</item>
/// <item>a chat template family (chatml, llama-3, llama-2, mistral, zephyr): every record as a conversation in it;</item>
/// <item>plain: chat records in the plain text even when the model has a chat template.</item>
/// </list>
/// A <c>\n</c> typed in the option is a new line, so a template fits on a command line.
/// </summary>
public sealed record InstructionFormat(InstructionTemplate Template, ChatTemplate? Chat, bool ChatForPrompts, string? ChatName)
{
    public const string Plain = "plain";
    /// <summary>For generate: the prompt as given, no template.</summary>
    public const string None = "none";

    /// <summary>The format for a run; the model's chat template is read only for chat data.</summary>
    public static InstructionFormat From(string? option, string modelDir, bool chatData)
    {
        if (option is { } family && ChatTemplate.Families.Contains(family))
            return new InstructionFormat(InstructionTemplate.Default, ChatTemplate.NamedFor(family, modelDir), true, family);
        if (option == Plain) return new InstructionFormat(InstructionTemplate.Default, null, false, chatData ? Plain : null);
        var template = PromptTemplate(option);
        if (!chatData) return new InstructionFormat(template, null, false, null);
        var own = ChatTemplate.FromFolder(modelDir);
        return new InstructionFormat(template, own, false, own?.Name ?? Plain);
    }

    /// <summary>The format an adapter recorded (its task file's template and chat_template), for evaluating it on the same text.</summary>
    public static InstructionFormat Recorded(string? template, string? chat, string modelDir, bool chatData)
    {
        if (chat == Plain) return new InstructionFormat(PromptTemplate(template), null, false, Plain);
        if (chat != null) return new InstructionFormat(PromptTemplate(template), ChatTemplate.NamedFor(chat, modelDir), template is null, chat);
        return From(template, modelDir, chatData);
    }

    /// <summary>The template text recorded in the adapter for prompt/completion records; null when a chat family renders them.</summary>
    public string? RecordedTemplate => ChatForPrompts ? null : Template.Prompt;

    /// <summary>
    /// What a model is shown for a prompt, from a template option (generate's --template) or what an adapter recorded:
    /// the prompt template up to the completion, or a one-message chat up to the assistant's reply. <paramref name="option"/>
    /// wins over the recorded values; none gives the prompt as it is.
    /// </summary>
    public static string PromptText(string prompt, string? option, string? recordedTemplate, string? recordedChat, string modelDir)
    {
        if (option == None) return prompt;
        string? chat = option is null ? recordedChat : ChatTemplate.Families.Contains(option) || option == Plain ? option : null;
        if (chat == Plain) return InstructionTemplate.Default.ChatPromptText(prompt);
        if (chat != null) return ChatTemplate.NamedFor(chat, modelDir).RenderText([new ChatMessage("user", prompt)], addGenerationPrompt: true);
        var template = option is null ? recordedTemplate : option;
        return template is null ? prompt : PromptTemplate(template).PromptText(prompt);
    }

    /// <summary>The chat family a prompt is rendered in (for its end-of-turn stop token), by the same rules as <see cref="PromptText"/>.</summary>
    public static string? ChatOf(string? option, string? recordedChat) =>
        option is null ? recordedChat : ChatTemplate.Families.Contains(option) || option == Plain ? option : null;

    private static InstructionTemplate PromptTemplate(string? option)
    {
        if (string.IsNullOrEmpty(option)) return InstructionTemplate.Default;
        var text = option.Replace("\\n", "\n", StringComparison.Ordinal).Replace("\\t", "\t", StringComparison.Ordinal);
        if (!text.Contains("{prompt}", StringComparison.Ordinal))
            throw new PeftException($"template \"{option}\" must contain {{prompt}} (and {{completion}}), or be one of {string.Join(", ", ChatTemplate.Families)}, {Plain}");
        var template = new InstructionTemplate { Prompt = text };
        template.Validate();
        return template;
    }
}
