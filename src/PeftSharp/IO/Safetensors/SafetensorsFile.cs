using Microsoft.Win32.SafeHandles;
using TorchSharp;

namespace PeftSharp.IO.Safetensors;

/// <summary>
/// One open safetensors file. Opening reads and validates only the header, so inspecting a checkpoint
/// (names, shapes, dtypes) costs nothing, and each tensor is read from disk only when asked for. The file
/// stays open until disposed; loads use positional reads and may run concurrently.
/// </summary>
public sealed class SafetensorsFile : ITensorSource
{
    private readonly SafeFileHandle _file;
    private readonly SafetensorsHeader _header;
    private readonly Dictionary<string, Slot> _byName;

    /// <summary>The entry handed out plus our own copy of its shape, which callers cannot mutate.</summary>
    private readonly record struct Slot(TensorEntry Entry, long[] Shape);

    private SafetensorsFile(string path, SafeFileHandle file, long length, SafetensorsHeader header)
    {
        Path = path;
        _file = file;
        _header = header;
        FileLength = length;
        _byName = header.Entries.ToDictionary(
            e => e.Name,
            e => new Slot(e with { Shape = (long[])e.Shape.Clone() }, e.Shape),
            StringComparer.Ordinal);
        Entries = header.Entries.Select(e => _byName[e.Name].Entry).ToArray();
    }

    /// <summary>Full path, as used in error messages.</summary>
    public string Path { get; }

    public long FileLength { get; }

    /// <summary>Where the data section starts: 8 + header length.</summary>
    public long DataStart => _header.DataStart;

    /// <summary>The header's "__metadata__" (empty when absent), e.g. {"format": "pt"}.</summary>
    public IReadOnlyDictionary<string, string> Metadata => _header.Metadata;

    /// <summary>Every tensor, ordered by its position in the file.</summary>
    public IReadOnlyList<TensorEntry> Entries { get; }

    public IEnumerable<string> Keys => Entries.Select(e => e.Name);

    /// <summary>
    /// Opens and validates the header. Throws <see cref="SafetensorsFormatException"/> for a malformed file and
    /// <see cref="PeftException"/> for a missing file or a pickle checkpoint.
    /// </summary>
    public static SafetensorsFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        if (PickleRefusal.HasPickleExtension(full)) throw new PeftException(PickleRefusal.FileMessage(full));
        if (Directory.Exists(full))
            throw new PeftException($"{full} is a folder; use CheckpointReader.OpenFolder for a model folder");
        if (!File.Exists(full)) throw new PeftException($"{full} does not exist");

        var file = File.OpenHandle(full, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete);
        try
        {
            long length = RandomAccess.GetLength(file);
            SafetensorsHeader header;
            try
            {
                header = SafetensorsHeader.Read(file, length, full);
            }
            catch (SafetensorsFormatException e) when (StartsLikePickle(file))
            {
                throw new SafetensorsFormatException(full, null, $"this is a PyTorch pickle checkpoint, not a safetensors file. {PickleRefusal.Advice(System.IO.Path.GetFileName(full))}", e);
            }
            return new SafetensorsFile(full, file, length, header);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _byName.ContainsKey(name);

    public bool TryGetEntry(string name, out TensorEntry entry)
    {
        if (_byName.TryGetValue(name, out var slot))
        {
            entry = slot.Entry;
            return true;
        }
        entry = null!;
        return false;
    }

    public TensorEntry GetEntry(string name) => GetSlot(name).Entry;

    public torch.Tensor Load(string name, torch.Device? device = null, torch.ScalarType? dtype = null)
    {
        var slot = GetSlot(name);
        ObjectDisposedException.ThrowIf(_file.IsClosed, this);
        var e = slot.Entry;
        var tensor = TensorBytes.Read(_file, DataStart + e.Begin, e.DType, slot.Shape, e.ByteLength, Path, e.Name);
        return Convert(tensor, device, dtype);
    }

    public Dictionary<string, torch.Tensor> LoadAll(torch.Device? device = null, torch.ScalarType? dtype = null) =>
        LoadMany(this, Keys, device, dtype);

    public void Dispose() => _file.Dispose();

    public override string ToString() => $"{Path} ({Entries.Count} tensors)";

    private Slot GetSlot(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_byName.TryGetValue(name, out var slot)) return slot;
        throw new PeftException(NearKeys.NotFoundMessage(name, Path, _byName.Keys));
    }

    /// <summary>Applies the requested dtype and device, disposing intermediates; CPU needs no move.</summary>
    internal static torch.Tensor Convert(torch.Tensor tensor, torch.Device? device, torch.ScalarType? dtype)
    {
        try
        {
            if (dtype is { } wanted && wanted != tensor.dtype)
            {
                var converted = tensor.to(wanted);
                tensor.Dispose();
                tensor = converted;
            }
            if (device is not null && device.type != DeviceType.CPU)
            {
                var moved = tensor.to(device);
                tensor.Dispose();
                tensor = moved;
            }
            return tensor;
        }
        catch
        {
            tensor.Dispose();
            throw;
        }
    }

    internal static Dictionary<string, torch.Tensor> LoadMany(ITensorSource source, IEnumerable<string> keys,
        torch.Device? device, torch.ScalarType? dtype)
    {
        var result = new Dictionary<string, torch.Tensor>(StringComparer.Ordinal);
        try
        {
            foreach (var key in keys) result.Add(key, source.Load(key, device, dtype));
            return result;
        }
        catch
        {
            foreach (var t in result.Values) t.Dispose();
            throw;
        }
    }

    private static bool StartsLikePickle(SafeFileHandle file)
    {
        Span<byte> start = stackalloc byte[4];
        int read = RandomAccess.Read(file, start, 0);
        return PickleRefusal.LooksLikePickle(start[..read]);
    }
}
