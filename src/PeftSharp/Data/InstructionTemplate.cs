using System.Text;

namespace PeftSharp.Data;

/// <summary>
/// How prompt/completion pairs and chat messages become one training text, with plain placeholders instead of Jinja
/// so that a template is readable and cannot run code. Everything up to the completion is masked from the loss; the
/// completion, any template text after it, and the EOS that follows are learned.
/// Placeholders: <c>{prompt}</c> and <c>{completion}</c> in <see cref="Prompt"/>; <c>{role}</c> and <c>{content}</c>
/// in <see cref="Message"/> and <see cref="Reply"/>. Other braces are literal text. Placeholders are filled in one
/// pass, so a prompt that itself contains "{completion}" stays as written.
/// </summary>
public sealed record InstructionTemplate
{
    /// <summary>Prompt/completion records; without <c>{completion}</c> the completion follows the template's end.</summary>
    public string Prompt { get; init; } = "### Instruction:\n{prompt}\n\n### Response:\n{completion}";

    /// <summary>A chat message that is not learned (system, user, tool).</summary>
    public string Message { get; init; } = "### {role}:\n{content}\n\n";

    /// <summary>A chat message that is learned: the text before <c>{content}</c> is masked, the rest learned, then EOS.</summary>
    public string Reply { get; init; } = "### {role}:\n{content}";

    /// <summary>The role whose messages are learned.</summary>
    public string AssistantRole { get; init; } = "assistant";

    public static InstructionTemplate Default { get; } = new();

    /// <summary>What a model trained with this template is shown for a prompt: the template up to the completion.</summary>
    public string PromptText(string prompt) =>
        Split(Prompt, "completion", new Dictionary<string, string> { ["prompt"] = prompt }).Before;

    /// <summary>A one-message chat in this template's plain chat text, up to where the assistant's reply begins.</summary>
    public string ChatPromptText(string prompt)
    {
        var (before, after) = Split(Message, "content", new Dictionary<string, string> { ["role"] = "user" });
        return before + prompt + after + Split(Reply, "content", new Dictionary<string, string> { ["role"] = AssistantRole }).Before;
    }

    /// <summary>The template text before and after the learned placeholder, with the other placeholders filled.</summary>
    internal (string Before, string After) Split(string template, string learned, IReadOnlyDictionary<string, string> values)
    {
        var parts = Parse(template);
        int at = parts.FindIndex(p => p.IsPlaceholder && p.Text == learned);
        var before = new StringBuilder();
        var after = new StringBuilder();
        for (int i = 0; i < parts.Count; i++)
        {
            if (i == at) continue;
            var target = at < 0 || i < at ? before : after;
            target.Append(parts[i].IsPlaceholder ? values.GetValueOrDefault(parts[i].Text, "") : parts[i].Text);
        }
        return (before.ToString(), after.ToString());
    }

    /// <summary>Checks that each template has its required placeholder, so a typo fails before any data is read.</summary>
    internal void Validate()
    {
        Require(nameof(Prompt), Prompt, "prompt");
        Require(nameof(Message), Message, "content");
        Require(nameof(Reply), Reply, "content");
        if (string.IsNullOrEmpty(AssistantRole)) throw new PeftException("The instruction template's assistant role is empty.");
    }

    private static void Require(string name, string template, string placeholder)
    {
        if (template is null || !Parse(template).Any(p => p.IsPlaceholder && p.Text == placeholder))
            throw new PeftException($"The instruction template's {name} must contain {{{placeholder}}}: \"{template}\"");
    }

    private static readonly HashSet<string> Known = ["prompt", "completion", "role", "content"];

    private static List<(string Text, bool IsPlaceholder)> Parse(string template)
    {
        var parts = new List<(string, bool)>();
        int literalStart = 0;
        for (int i = 0; i < template.Length; i++)
        {
            if (template[i] != '{') continue;
            int close = template.IndexOf('}', i + 1);
            if (close < 0) break;
            var name = template[(i + 1)..close];
            if (!Known.Contains(name)) continue;
            if (i > literalStart) parts.Add((template[literalStart..i], false));
            parts.Add((name, true));
            literalStart = close + 1;
            i = close;
        }
        if (literalStart < template.Length) parts.Add((template[literalStart..], false));
        return parts;
    }
}
