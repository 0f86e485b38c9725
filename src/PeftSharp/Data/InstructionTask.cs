using System.Text.Json.Nodes;
using PeftSharp.Tokenization;

namespace PeftSharp.Data;

/// <summary>
/// Instruction tuning for causal models: the loss is taken only on what the model should answer, never on the prompt,
/// so training teaches answering rather than repeating questions. A record is either prompt/completion fields or a
/// chat <c>messages</c> list of {role, content}; with chat, every assistant message is learned and followed by EOS.
/// The prompt/answer boundary is found by tokenizing the prompt alone and the prompt with its answer and keeping the
/// common prefix masked, so it holds even where a tokenizer merges characters across the boundary.
/// </summary>
public sealed class InstructionTask : ITrainingTask
{
    private readonly ITextTokenizer _tokenizer;
    private readonly InstructionTemplate _template;
    private readonly int? _bos;

    public InstructionTask(ITextTokenizer tokenizer, InstructionTemplate? template = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        _tokenizer = tokenizer;
        _template = template ?? InstructionTemplate.Default;
        _template.Validate();
        // Prepend BOS exactly when the tokenizer would (Llama does, GPT-2 does not).
        var special = tokenizer.AddSpecialTokens([]);
        _bos = special.Count > 0 && special[0] == tokenizer.BosTokenId ? tokenizer.BosTokenId : null;
    }

    public TaskKind Kind => TaskKind.CausalLm;
    public string PromptField { get; init; } = "prompt";
    public string CompletionField { get; init; } = "completion";
    public string MessagesField { get; init; } = "messages";
    /// <summary>Longest example in tokens; longer ones are cut from the right (the end of the answer).</summary>
    public int? MaxLength { get; init; }
    /// <summary>End every learned answer with EOS, so the model learns to stop.</summary>
    public bool AddEos { get; init; } = true;
    /// <summary>
    /// Renders chat records as the model's own chat template does (its end-of-turn marker, not an extra EOS, ends each
    /// learned answer); null renders them with the <see cref="InstructionTemplate"/>'s plain Message and Reply.
    /// </summary>
    public ChatTemplate? Chat { get; init; }
    /// <summary>Prompt/completion records through <see cref="Chat"/> too, as a user message and the assistant's reply.</summary>
    public bool ChatForPrompts { get; init; }

    public IReadOnlyList<TokenizedExample> Tokenize(IEnumerable<DataRecord> records, DataIssueLog issues)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(issues);
        if (AddEos && _tokenizer.EosTokenId is null)
            throw new PeftException("the tokenizer has no EOS token to end answers with (tokenizer_config.json names no eos_token); use a model whose tokenizer has one");
        if (MaxLength is { } m && m < 2) throw new PeftException($"max_length {m} is too short for a prompt and an answer");
        var examples = new List<TokenizedExample>();
        foreach (var record in records)
        {
            bool chat = record.Fields.ContainsKey(MessagesField);
            var turns = chat ? ChatTurns(record, issues) : PromptTurn(record, issues);
            if (turns is null) continue;
            var example = Encode(record, turns, issues, templated: Chat != null && (chat || ChatForPrompts));
            if (example is not null) examples.Add(example);
        }
        return examples;
    }

    /// <summary>A piece of the training text: masked text, then learned text, then EOS when the task adds one.</summary>
    private sealed record Turn(string Masked, string Learned);

    /// <summary>A chat template's rendering as turns: the text before each learned piece is masked; what follows the last is left out.</summary>
    private static List<Turn> TemplateTurns(IReadOnlyList<ChatSegment> segments)
    {
        var turns = new List<Turn>();
        string pending = "";
        foreach (var segment in segments)
        {
            if (!segment.Learned) { pending += segment.Text; continue; }
            turns.Add(new Turn(pending, segment.Text));
            pending = "";
        }
        return turns;
    }

    private List<Turn>? PromptTurn(DataRecord record, DataIssueLog issues)
    {
        if (!record.Fields.ContainsKey(PromptField) && !record.Fields.ContainsKey(CompletionField))
        {
            issues.Report(record, $"needs \"{PromptField}\" and \"{CompletionField}\" fields, or a \"{MessagesField}\" list");
            return null;
        }
        var prompt = RecordFields.Text(record, [PromptField], issues);
        if (prompt is null) return null;
        var completion = RecordFields.Text(record, [CompletionField], issues);
        if (completion is null) return null;
        if (Chat != null && ChatForPrompts) return TemplateTurns(Chat.Render([new ChatMessage("user", prompt), new ChatMessage("assistant", completion)], false));
        var (before, after) = _template.Split(_template.Prompt, "completion", new Dictionary<string, string> { ["prompt"] = prompt });
        return [new Turn(before, completion + after)];
    }

    private List<Turn>? ChatTurns(DataRecord record, DataIssueLog issues)
    {
        if (record[MessagesField] is not JsonArray messages || messages.Count == 0)
        {
            issues.Report(record, $"\"{MessagesField}\" must be a non-empty list of {{\"role\", \"content\"}} objects");
            return null;
        }
        var turns = new List<Turn>();
        var parsed = new List<ChatMessage>();
        string pending = "";
        for (int i = 0; i < messages.Count; i++)
        {
            if (messages[i] is not JsonObject message
                || message["role"] is not JsonValue r || !r.TryGetValue(out string? role) || string.IsNullOrEmpty(role)
                || message["content"] is not JsonValue c || !c.TryGetValue(out string? content))
            {
                issues.Report(record, $"\"{MessagesField}\"[{i}] must be an object with string \"role\" and \"content\"");
                return null;
            }
            var values = new Dictionary<string, string> { ["role"] = role, ["content"] = content };
            parsed.Add(new ChatMessage(role, content));
            if (role == _template.AssistantRole)
            {
                if (string.IsNullOrWhiteSpace(content))
                {
                    issues.Report(record, $"\"{MessagesField}\"[{i}] is an empty {role} message");
                    return null;
                }
                var (before, after) = _template.Split(_template.Reply, "content", values);
                turns.Add(new Turn(pending + before, content + after));
                pending = "";
            }
            else
            {
                var (before, after) = _template.Split(_template.Message, "content", values);
                pending += before + content + after;
            }
        }
        if (turns.Count == 0)
        {
            issues.Report(record, $"\"{MessagesField}\" has no \"{_template.AssistantRole}\" message to learn from");
            return null;
        }
        if (Chat != null)
        {
            try { return TemplateTurns(Chat.Render(parsed, false)); }
            catch (PeftException e)
            {
                issues.Report(record, e.Message);
                return null;
            }
        }
        // Messages after the last reply teach nothing; they are left out rather than padded into the example.
        return turns;
    }

    /// <param name="templated">Rendered by a chat template: it writes BOS where the model wants one and ends answers itself.</param>
    private TokenizedExample? Encode(DataRecord record, List<Turn> turns, DataIssueLog issues, bool templated)
    {
        var ids = new List<int>();
        var labels = new List<int>();
        if (!templated && _bos is { } bos)
        {
            ids.Add(bos);
            labels.Add(TokenizedExample.IgnoreIndex);
        }
        foreach (var turn in turns)
        {
            var full = _tokenizer.Encode(turn.Masked + turn.Learned, addSpecialTokens: false);
            var masked = _tokenizer.Encode(turn.Masked, addSpecialTokens: false);
            int common = 0;
            while (common < masked.Count && common < full.Count && masked[common] == full[common]) common++;
            for (int i = 0; i < full.Count; i++)
            {
                ids.Add(full[i]);
                labels.Add(i < common ? TokenizedExample.IgnoreIndex : full[i]);
            }
            if (AddEos && !templated)
            {
                ids.Add(_tokenizer.EosTokenId!.Value);
                labels.Add(_tokenizer.EosTokenId!.Value);
            }
        }
        if (MaxLength is { } max && ids.Count > max)
        {
            ids.RemoveRange(max, ids.Count - max);
            labels.RemoveRange(max, labels.Count - max);
        }
        if (labels.All(l => l == TokenizedExample.IgnoreIndex))
        {
            issues.Report(record, MaxLength is { } limit && ids.Count == limit
                ? $"the prompt alone fills MaxLength ({limit} tokens), leaving no answer to learn from"
                : "the answer tokenizes to nothing");
            return null;
        }
        return new TokenizedExample { InputIds = ids.ToArray(), Labels = labels.ToArray(), Source = record.Source, Line = record.Line };
    }
}
