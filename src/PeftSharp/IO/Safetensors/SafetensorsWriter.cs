using System.Buffers.Binary;
using TorchSharp;

namespace PeftSharp.IO.Safetensors;

/// <summary>
/// Writes safetensors files that Python reads and that are byte-identical to what Python's
/// safetensors.torch.save_file writes for the same tensors and metadata (see <see cref="HeaderJson"/> for the
/// one exception, metadata with several keys). Files are written to a temporary file next to the target and
/// renamed into place, so a crash or an error never leaves a half-written file under the final name, and a failed write
/// removes its temporary file.
/// </summary>
public static class SafetensorsWriter
{
    private readonly record struct Planned(TensorEntry Entry, torch.Tensor Tensor);

    /// <summary>
    /// Writes <paramref name="tensors"/> (any device, any layout: they are copied to CPU and made contiguous one
    /// at a time while streaming) to <paramref name="path"/>, replacing it atomically. The tensors are not disposed.
    /// </summary>
    public static void Write(string path, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = Path.GetFullPath(path);
        var plan = Plan(tensors, metadata);
        var directory = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(directory)) throw new PeftException($"cannot write {full}: folder {directory} does not exist");
        if (Directory.Exists(full)) throw new PeftException($"cannot write {full}: it is a folder");

        var temp = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                WritePlanned(stream, plan.Header, plan.Tensors, temp);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch (Exception e)
        {
            try { File.Delete(temp); }
            catch (Exception d) when (d is IOException or UnauthorizedAccessException) { /* best effort; the target is untouched either way */ }
            // A full disk or read-only folder names the file asked for, not the temporary one .NET saw fail.
            if (FileSystemErrors.IsWriteFailure(e)) throw FileSystemErrors.Writing(full, e);
            throw;
        }
    }

    /// <summary>Streams the same bytes <see cref="Write(string, IEnumerable{KeyValuePair{string, torch.Tensor}}, IReadOnlyDictionary{string, string}?)"/> would put in a file.</summary>
    public static void WriteTo(Stream destination, IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(destination);
        var plan = Plan(tensors, metadata);
        WritePlanned(destination, plan.Header, plan.Tensors, "(stream)");
    }

    /// <summary>
    /// Checks everything that can be checked before the first byte is written (names, duplicates, dtypes,
    /// metadata) and orders the tensors as Python does: dtype rank descending, then name by UTF-8 bytes.
    /// </summary>
    private static (byte[] Header, List<Planned> Tensors) Plan(IEnumerable<KeyValuePair<string, torch.Tensor>> tensors,
        IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var items = new List<(string Name, SafetensorsDType DType, long[] Shape, long Bytes, torch.Tensor Tensor)>();
        foreach (var (name, tensor) in tensors)
        {
            if (name is null) throw new PeftException("a tensor to write has a null name");
            if (tensor is null) throw new PeftException($"tensor '{name}' to write is null");
            if (name == SafetensorsHeader.MetadataKey)
                throw new PeftException($"a tensor cannot be named '{SafetensorsHeader.MetadataKey}': the header reserves that key");
            if (!seen.Add(name)) throw new PeftException($"tensor name '{name}' is given more than once");
            CheckEncodable(name, $"tensor name '{name}'");
            if (!SafetensorsDTypes.TryFromScalarType(tensor.dtype, out var dtype))
                throw new PeftException($"tensor '{name}' has dtype {tensor.dtype}, which safetensors cannot store in PeftSharp " +
                                        $"(supported: {string.Join(", ", SafetensorsDTypes.All.Select(SafetensorsDTypes.ToScalarType))})");
            var shape = tensor.shape;
            long bytes = checked(tensor.numel() * SafetensorsDTypes.SizeOf(dtype));
            items.Add((name, dtype, shape, bytes, tensor));
        }
        if (metadata != null)
        {
            foreach (var (key, value) in metadata)
            {
                if (key is null || value is null) throw new PeftException("metadata keys and values must not be null");
                CheckEncodable(key, $"metadata key '{key}'");
                CheckEncodable(value, $"metadata value of '{key}'");
            }
        }

        var ordered = items
            .OrderByDescending(i => SafetensorsDTypes.PythonWriteRank(i.DType))
            .ThenBy(i => i.Name, Utf8Order.Instance)
            .ToList();
        var planned = new List<Planned>(ordered.Count);
        long offset = 0;
        foreach (var i in ordered)
        {
            var entry = new TensorEntry(i.Name, i.DType, i.Shape, offset, checked(offset + i.Bytes));
            planned.Add(new Planned(entry, i.Tensor));
            offset = entry.End;
        }
        return (HeaderJson.Build(metadata, planned.Select(p => p.Entry)), planned);
    }

    private static void WritePlanned(Stream stream, byte[] header, List<Planned> tensors, string nameForErrors)
    {
        Span<byte> length = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
        stream.Write(length);
        stream.Write(header);
        foreach (var (entry, tensor) in tensors)
        {
            // One tensor at a time: a model on a GPU is never copied to host memory all at once.
            using var cpu = tensor.to(torch.CPU);
            using var contiguous = cpu.contiguous();
            long written = TensorBytes.Write(stream, contiguous);
            if (written != entry.ByteLength)
                throw new InvalidOperationException(
                    $"{nameForErrors}: tensor '{entry.Name}' changed size while being written ({entry.ByteLength} bytes planned, {written} written)");
        }
    }

    private static void CheckEncodable(string text, string what)
    {
        try
        {
            HeaderJson.Strict.GetByteCount(text);
        }
        catch (System.Text.EncoderFallbackException e)
        {
            throw new PeftException($"{what} is not valid Unicode text (unpaired surrogate) and cannot be written as UTF-8", e);
        }
    }
}
