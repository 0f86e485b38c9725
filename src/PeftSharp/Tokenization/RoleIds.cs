namespace PeftSharp.Tokenization;

/// <summary>The ids of the special-token roles, looked up once from their contents.</summary>
internal sealed record RoleIds(int? Pad, int? Bos, int? Eos, int? Unk, int? Cls, int? Sep, int? Mask)
{
    public static RoleIds Resolve(IReadOnlyDictionary<string, string?> roles, Func<string, int?> lookup)
    {
        int? Id(string role) => roles.TryGetValue(role, out var content) && content is not null ? lookup(content) : null;
        return new RoleIds(Id("pad_token"), Id("bos_token"), Id("eos_token"), Id("unk_token"), Id("cls_token"), Id("sep_token"), Id("mask_token"));
    }

    public IEnumerable<int> All => new[] { Pad, Bos, Eos, Unk, Cls, Sep, Mask }.Where(i => i.HasValue).Select(i => i!.Value);
}
