using System.Buffers.Binary;
using System.Text;

namespace PeftSharp.Native;

/// <summary>
/// Reads and edits the symbol-version tables of a 64-bit little-endian ELF shared library.
/// Exists so that PeftSharp can tell whether the process's libstdc++ defines a version and,
/// if it does not, mark that version need of libLibTorchSharp.so weak instead of failing to load.
/// </summary>
public sealed class ElfVersionTable
{
    private const uint ShtGnuVerdef = 0x6ffffffd;
    private const uint ShtGnuVerneed = 0x6ffffffe;
    /// <summary>ELF's VER_FLG_WEAK: the loader only notes a missing weak version.</summary>
    public const ushort VerFlagWeak = 0x2;

    private readonly byte[] _image;

    private ElfVersionTable(byte[] image, List<string> defined, List<VersionNeed> needed)
    {
        _image = image;
        Defined = defined;
        Needed = needed;
    }

    /// <summary>Version names this library defines (.gnu.version_d).</summary>
    public IReadOnlyList<string> Defined { get; }

    /// <summary>Version needs this library has on others (.gnu.version_r).</summary>
    public IReadOnlyList<VersionNeed> Needed { get; }

    /// <summary>A version the library needs from a dependency; FlagsOffset locates vna_flags in the file.</summary>
    public sealed record VersionNeed(string Library, string Version, ushort Flags, long FlagsOffset)
    {
        public bool IsWeak => (Flags & VerFlagWeak) != 0;
    }

    public static ElfVersionTable Read(string path) => Parse(File.ReadAllBytes(path), path);

    /// <summary>Parses only the headers and version sections; every offset is bounds-checked.</summary>
    public static ElfVersionTable Parse(byte[] image, string nameForErrors)
    {
        var s = image;
        if (s.Length < 64 || s[0] != 0x7f || s[1] != (byte)'E' || s[2] != (byte)'L' || s[3] != (byte)'F')
            throw new InvalidDataException($"{nameForErrors}: not an ELF file");
        if (s[4] != 2 || s[5] != 1)
            throw new InvalidDataException($"{nameForErrors}: only 64-bit little-endian ELF is supported");

        ulong shoff = U64(s, 0x28, nameForErrors);
        int shentsize = U16(s, 0x3A, nameForErrors);
        int shnum = U16(s, 0x3C, nameForErrors);
        if (shentsize < 64 || shnum == 0)
            throw new InvalidDataException($"{nameForErrors}: no section headers");

        var sections = new List<(uint Type, ulong Offset, ulong Size, uint Link, uint Info)>();
        for (int i = 0; i < shnum; i++)
        {
            long b = Checked(shoff + (ulong)(i * shentsize), 64, s.Length, nameForErrors);
            sections.Add((U32(s, b + 4, nameForErrors), U64(s, b + 0x18, nameForErrors),
                U64(s, b + 0x20, nameForErrors), U32(s, b + 0x28, nameForErrors), U32(s, b + 0x2C, nameForErrors)));
        }

        string Str(uint strSection, uint offset)
        {
            if (strSection >= sections.Count) throw new InvalidDataException($"{nameForErrors}: bad string table link");
            var st = sections[(int)strSection];
            long start = Checked(st.Offset + offset, 1, s.Length, nameForErrors);
            int end = Array.IndexOf(s, (byte)0, (int)start) - (int)start;
            if (end < 0) throw new InvalidDataException($"{nameForErrors}: unterminated string");
            return Encoding.ASCII.GetString(s, (int)start, end);
        }

        var defined = new List<string>();
        var needed = new List<VersionNeed>();
        foreach (var sec in sections)
        {
            if (sec.Type == ShtGnuVerdef)
            {
                long at = (long)sec.Offset;
                for (uint n = 0; n < sec.Info; n++)
                {
                    Checked((ulong)at, 20, s.Length, nameForErrors);
                    int cnt = U16(s, at + 6, nameForErrors);
                    uint aux = U32(s, at + 12, nameForErrors);
                    uint next = U32(s, at + 16, nameForErrors);
                    if (cnt > 0)
                        defined.Add(Str(sec.Link, U32(s, Checked((ulong)at + aux, 8, s.Length, nameForErrors), nameForErrors)));
                    if (next == 0) break;
                    at += next;
                }
            }
            else if (sec.Type == ShtGnuVerneed)
            {
                long at = (long)sec.Offset;
                for (uint n = 0; n < sec.Info; n++)
                {
                    Checked((ulong)at, 16, s.Length, nameForErrors);
                    int cnt = U16(s, at + 2, nameForErrors);
                    string lib = Str(sec.Link, U32(s, at + 4, nameForErrors));
                    long aux = at + U32(s, at + 8, nameForErrors);
                    for (int k = 0; k < cnt; k++)
                    {
                        Checked((ulong)aux, 16, s.Length, nameForErrors);
                        ushort flags = (ushort)U16(s, aux + 4, nameForErrors);
                        string ver = Str(sec.Link, U32(s, aux + 8, nameForErrors));
                        needed.Add(new VersionNeed(lib, ver, flags, aux + 4));
                        uint auxNext = U32(s, aux + 12, nameForErrors);
                        if (auxNext == 0) break;
                        aux += auxNext;
                    }
                    uint next = U32(s, at + 12, nameForErrors);
                    if (next == 0) break;
                    at += next;
                }
            }
        }
        return new ElfVersionTable(image, defined, needed);
    }

    /// <summary>Returns a copy of the image with the named version need marked weak.</summary>
    public byte[] WithWeakNeed(string version)
    {
        var copy = (byte[])_image.Clone();
        foreach (var need in Needed.Where(n => n.Version == version))
            BinaryPrimitives.WriteUInt16LittleEndian(copy.AsSpan((int)need.FlagsOffset, 2), (ushort)(need.Flags | VerFlagWeak));
        return copy;
    }

    private static long Checked(ulong offset, int length, int total, string name)
    {
        if (offset > (ulong)total || (ulong)total - offset < (ulong)length)
            throw new InvalidDataException($"{name}: ELF offset {offset} out of range");
        return (long)offset;
    }

    private static int U16(ReadOnlySpan<byte> s, long at, string name) =>
        BinaryPrimitives.ReadUInt16LittleEndian(s.Slice((int)Checked((ulong)at, 2, s.Length, name), 2));
    private static uint U32(ReadOnlySpan<byte> s, long at, string name) =>
        BinaryPrimitives.ReadUInt32LittleEndian(s.Slice((int)Checked((ulong)at, 4, s.Length, name), 4));
    private static ulong U64(ReadOnlySpan<byte> s, long at, string name) =>
        BinaryPrimitives.ReadUInt64LittleEndian(s.Slice((int)Checked((ulong)at, 8, s.Length, name), 8));
}
