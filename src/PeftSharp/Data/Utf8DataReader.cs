using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace PeftSharp.Data;

/// <summary>
/// Reads a data file's text line by line while checking that it is valid UTF-8, and remembers where it is not: the
/// line and the byte offset in the file of the first bad byte. A StreamReader would quietly turn such bytes into
/// U+FFFD and the model would train on them; the readers instead report the record (file, line, offset) to the
/// malformed-record policy. Text reaching the parser has the bytes replaced, so a skipped record cannot break the next.
/// A file with a UTF-16 or UTF-32 byte-order mark is read as that encoding, as before, without the check.
/// </summary>
internal sealed class Utf8DataReader : TextReader
{
    private readonly Stream _stream;
    private readonly Queue<(long Line, long Offset)> _invalid = new();
    private readonly List<byte> _bytes = [];
    private StreamReader? _other;
    private string _text = "";
    private int _position;
    private long _lineStart;
    private long _line;
    private bool _started;
    private bool _ended;

    public Utf8DataReader(string path)
    {
        _stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
    }

    /// <summary>The 1-based line of the last character returned by <see cref="Read()"/> or <see cref="ReadLine"/>.</summary>
    public long ConsumedLine { get; private set; }

    /// <summary>The invalid lines up to <see cref="ConsumedLine"/> not yet taken; the first one at or after <paramref name="fromLine"/>, if any.</summary>
    public (long Line, long Offset)? TakeInvalid(long fromLine)
    {
        (long, long)? first = null;
        while (_invalid.Count > 0 && _invalid.Peek().Line <= ConsumedLine)
        {
            var bad = _invalid.Dequeue();
            if (bad.Line >= fromLine && first is null) first = bad;
        }
        return first;
    }

    /// <summary>Describes an invalid line for the issue log.</summary>
    public static string Describe(long offset) => $"invalid UTF-8 (byte offset {offset:N0} in the file)";

    public override int Peek()
    {
        if (_other != null) return _other.Peek();
        if (_position >= _text.Length && !Fill()) return -1;
        return _other?.Peek() ?? _text[_position];
    }

    public override int Read()
    {
        if (_other != null) return _other.Read();
        if (_position >= _text.Length && !Fill()) return -1;
        if (_other != null) return _other.Read();
        ConsumedLine = _line;
        return _text[_position++];
    }

    public override string? ReadLine()
    {
        if (_other != null) return _other.ReadLine();
        if (_position >= _text.Length && !Fill()) return null;
        if (_other != null) return _other.ReadLine();
        var rest = _text.AsSpan(_position);
        _position = _text.Length;
        ConsumedLine = _line;
        if (rest.EndsWith("\n")) rest = rest[..^1];
        if (rest.EndsWith("\r")) rest = rest[..^1];
        return rest.ToString();
    }

    /// <summary>Reads the next physical line (with its line end) into the buffer; false at the end of the file.</summary>
    private bool Fill()
    {
        if (_ended) return false;
        _bytes.Clear();
        int b;
        while ((b = _stream.ReadByte()) != -1)
        {
            _bytes.Add((byte)b);
            if (b == '\n') break;
        }
        if (_bytes.Count == 0) { _ended = true; return false; }
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_bytes);
        long start = _lineStart;
        _lineStart += span.Length;
        if (!_started)
        {
            _started = true;
            if (span is [0xFF, 0xFE, ..] or [0xFE, 0xFF, ..] || span is [0, 0, 0xFE, 0xFF, ..])
            {
                _stream.Position = 0;
                _other = new StreamReader(_stream, detectEncodingFromByteOrderMarks: true);
                return true;
            }
            if (span is [0xEF, 0xBB, 0xBF, ..]) { span = span[3..]; start += 3; }
        }
        _line++;
        var chars = ArrayPool<char>.Shared.Rent(span.Length);
        try
        {
            var status = Utf8.ToUtf16(span, chars, out int read, out _, replaceInvalidSequences: false);
            if (status == OperationStatus.InvalidData) _invalid.Enqueue((_line, start + read));
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }
        _text = Encoding.UTF8.GetString(span);
        _position = 0;
        return true;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _other?.Dispose();
            _stream.Dispose();
        }
        base.Dispose(disposing);
    }
}
