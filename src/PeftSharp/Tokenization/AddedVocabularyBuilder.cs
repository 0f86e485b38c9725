namespace PeftSharp.Tokenization;

/// <summary>Turns the configured special tokens into the added vocabulary that is matched in raw text.</summary>
internal static class AddedVocabularyBuilder
{
    /// <summary>
    /// tokenizer.json's added_tokens win over the configuration files' added_tokens_decoder and added_tokens.json;
    /// role tokens not listed anywhere are looked up in the model vocabulary, where older folders keep them.
    /// </summary>
    public static AddedVocabulary Build(string dir, TokenizerConfig config, IEnumerable<AddedToken> fromTokenizerJson,
        IReadOnlyDictionary<string, string?> roles, Func<string, int?> lookup)
    {
        var byContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        foreach (var t in fromTokenizerJson) byContent.TryAdd(t.Content, t);
        foreach (var t in config.AddedTokens) byContent.TryAdd(t.Content, t);

        // Legacy added_tokens.json: {"content": id}.
        string legacy = Path.Combine(dir, "added_tokens.json");
        if (File.Exists(legacy))
            foreach (var (content, value) in JsonNode.Load(legacy).Properties())
                byContent.TryAdd(content, new AddedToken(value.AsInt(), content, Special: false));

        foreach (var content in roles.Values.Concat(config.AdditionalSpecial))
        {
            if (content is null || byContent.ContainsKey(content)) continue;
            if (lookup(content) is { } id) byContent[content] = new AddedToken(id, content, Special: true);
        }
        return new AddedVocabulary(byContent.Values);
    }

    /// <summary>The roles a folder's files name, over the defaults of its tokenizer class.</summary>
    public static Dictionary<string, string?> Roles(TokenizerConfig config, IReadOnlyDictionary<string, string?> defaults)
    {
        var roles = new Dictionary<string, string?>(defaults);
        foreach (var (role, content) in config.Named) roles[role] = content;
        return roles;
    }
}
