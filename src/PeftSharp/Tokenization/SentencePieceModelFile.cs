using System.Text;

namespace PeftSharp.Tokenization;

/// <summary>
/// The parts of a SentencePiece ModelProto that Microsoft.ML.Tokenizers does not expose: every piece with its type
/// (control pieces such as T5's &lt;pad&gt; are missing from its Vocabulary) and the trainer's special ids. A minimal
/// protobuf reader, because the generated ModelProto class inside Microsoft.ML.Tokenizers is internal.
/// </summary>
internal sealed class SentencePieceModelFile
{
    public List<(string Piece, int Type)> Pieces { get; } = new();
    public int UnkId { get; private set; }
    public int BosId { get; private set; } = 1;
    public int EosId { get; private set; } = 2;
    public int PadId { get; private set; } = -1;

    public static SentencePieceModelFile Parse(byte[] bytes, string file)
    {
        var model = new SentencePieceModelFile();
        try
        {
            int pos = 0;
            while (pos < bytes.Length)
            {
                var (field, wire) = Key(bytes, ref pos);
                if (field == 1 && wire == 2) model.Pieces.Add(ReadPiece(Slice(bytes, ref pos)));
                else if (field == 2 && wire == 2) model.ReadTrainer(Slice(bytes, ref pos));
                else Skip(bytes, ref pos, wire);
            }
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidDataException)
        {
            throw new PeftException($"{file}: not a SentencePiece model (protobuf parse failed: {e.Message})", e);
        }
        if (model.Pieces.Count == 0) throw new PeftException($"{file}: not a SentencePiece model (no pieces).");
        return model;
    }

    private static (string, int) ReadPiece(byte[] b)
    {
        string piece = ""; int type = 1, pos = 0;
        while (pos < b.Length)
        {
            var (field, wire) = Key(b, ref pos);
            if (field == 1 && wire == 2) piece = Encoding.UTF8.GetString(Slice(b, ref pos));
            else if (field == 3 && wire == 0) type = (int)Varint(b, ref pos);
            else Skip(b, ref pos, wire);
        }
        return (piece, type);
    }

    private void ReadTrainer(byte[] b)
    {
        int pos = 0;
        while (pos < b.Length)
        {
            var (field, wire) = Key(b, ref pos);
            if (wire == 0 && field is 40 or 41 or 42 or 43)
            {
                int v = (int)(long)Varint(b, ref pos);
                switch (field) { case 40: UnkId = v; break; case 41: BosId = v; break; case 42: EosId = v; break; default: PadId = v; break; }
            }
            else Skip(b, ref pos, wire);
        }
    }

    private static (int Field, int Wire) Key(byte[] b, ref int pos)
    {
        ulong key = Varint(b, ref pos);
        return ((int)(key >> 3), (int)(key & 7));
    }

    private static ulong Varint(byte[] b, ref int pos)
    {
        ulong v = 0;
        for (int shift = 0; ; shift += 7)
        {
            if (shift > 63) throw new InvalidDataException("varint too long");
            byte x = b[pos++];
            v |= (ulong)(x & 0x7F) << shift;
            if (x < 0x80) return v;
        }
    }

    private static byte[] Slice(byte[] b, ref int pos)
    {
        int length = checked((int)Varint(b, ref pos));
        if (length < 0 || pos + length > b.Length) throw new InvalidDataException("length past the end");
        var s = b.AsSpan(pos, length).ToArray();
        pos += length;
        return s;
    }

    private static void Skip(byte[] b, ref int pos, int wire)
    {
        switch (wire)
        {
            case 0: Varint(b, ref pos); break;
            case 1: pos += 8; break;
            case 2: Slice(b, ref pos); break;
            case 5: pos += 4; break;
            default: throw new InvalidDataException($"unsupported wire type {wire}");
        }
        if (pos > b.Length) throw new InvalidDataException("field past the end");
    }
}
