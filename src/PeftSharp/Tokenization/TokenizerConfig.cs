using System.Text.Json;

namespace PeftSharp.Tokenization;

/// <summary>
/// What transformers reads from tokenizer_config.json and special_tokens_map.json: the special tokens by role,
/// added tokens with their ids, and the few flags that change ids (lower-casing, BOS/EOS, prefix space).
/// special_tokens_map.json wins over tokenizer_config.json for a role, as in transformers.
/// </summary>
internal sealed class TokenizerConfig
{
    public static readonly string[] Roles = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    /// <summary>Role ("bos_token", ...) to content; a present key with a null value means the file set it to null.</summary>
    public Dictionary<string, string?> Named { get; } = new();
    public List<string> AdditionalSpecial { get; } = new();
    public List<AddedToken> AddedTokens { get; } = new();
    public bool? AddBosToken { get; private set; }
    public bool? AddEosToken { get; private set; }
    public bool? DoLowerCase { get; private set; }
    public bool? StripAccents { get; private set; }
    public bool? TokenizeChineseChars { get; private set; }
    public bool? AddPrefixSpace { get; private set; }
    public bool? CleanUpTokenizationSpaces { get; private set; }
    public string? TokenizerClass { get; private set; }

    /// <summary>The tokenizer class without "Fast", e.g. "BertTokenizer"; empty when unknown.</summary>
    public string BaseClass => (TokenizerClass ?? "").Replace("Fast", "", StringComparison.Ordinal);

    public static TokenizerConfig Load(string dir)
    {
        var config = new TokenizerConfig();
        string configFile = Path.Combine(dir, "tokenizer_config.json");
        if (File.Exists(configFile)) config.ReadTokenizerConfig(JsonNode.Load(configFile));
        string mapFile = Path.Combine(dir, "special_tokens_map.json");
        if (File.Exists(mapFile)) config.ReadRoles(JsonNode.Load(mapFile));
        return config;
    }

    private void ReadTokenizerConfig(JsonNode root)
    {
        ReadRoles(root);
        AddBosToken = root.GetBool("add_bos_token");
        AddEosToken = root.GetBool("add_eos_token");
        DoLowerCase = root.GetBool("do_lower_case");
        StripAccents = root.GetBool("strip_accents");
        TokenizeChineseChars = root.GetBool("tokenize_chinese_chars");
        AddPrefixSpace = root.GetBool("add_prefix_space");
        CleanUpTokenizationSpaces = root.GetBool("clean_up_tokenization_spaces");
        TokenizerClass = root.GetString("tokenizer_class");
        if (root.Get("added_tokens_decoder") is { } decoder)
        {
            foreach (var (key, value) in decoder.Properties())
            {
                if (!int.TryParse(key, out int id) || id < 0) throw value.Error("should be keyed by a token id");
                AddedTokens.Add(new AddedToken(id, value.RequireString("content"), value.GetBool("special") ?? false,
                    value.GetBool("lstrip") ?? false, value.GetBool("rstrip") ?? false, value.GetBool("single_word") ?? false));
            }
        }
    }

    private void ReadRoles(JsonNode root)
    {
        if (root.Kind != JsonValueKind.Object) throw root.Error("should be an object");
        foreach (var role in Roles)
        {
            if (!root.Element.TryGetProperty(role, out _)) continue;
            Named[role] = root.Get(role) is { } v ? TokenContent(v) : null;
        }
        if (root.Get("additional_special_tokens") is { } extra)
        {
            AdditionalSpecial.Clear();
            AdditionalSpecial.AddRange(extra.Items().Select(TokenContent));
        }
    }

    /// <summary>A token is written either as a plain string or as an AddedToken object with "content".</summary>
    private static string TokenContent(JsonNode v) => v.Kind == JsonValueKind.String ? v.AsString() : v.RequireString("content");

    /// <summary>The content for a role: the file's value, or the fallback when the files do not mention the role.</summary>
    public string? Role(string role, string? fallback = null) => Named.TryGetValue(role, out var v) ? v : fallback;
}
