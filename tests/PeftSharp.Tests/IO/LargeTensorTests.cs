using System.Buffers.Binary;
using System.Text;
using PeftSharp.IO.Safetensors;

namespace PeftSharp.Tests.IO;

public class LargeTensorTests
{
    /// <summary>
    /// A U8 tensor of 2^31 + 16 bytes, one more chunk than a Span can hold, read from a sparse file (the zeros
    /// cost no disk). Marker bytes either side of the 2^31 boundary show every chunk landed in the right place.
    /// </summary>
    /// <remarks>Needs about 2.4 GB free in the temp folder, in case the file is not stored sparsely there; with less it is reported as skipped.</remarks>
    [SkippableFact]
    [Trait("Category", "Slow")] // reads 2 GB through the loader
    public void TensorOver2GBLoadsFromASparseFile()
    {
        const long length = (1L << 31) + 16;
        using var dir = new TempDir();
        long free = new DriveInfo(dir.Path).AvailableFreeSpace;
        Skip.If(free < length + (256L << 20), $"only {free:N0} bytes free in {dir.Path}; a {length:N0}-byte file needs more if it is not stored sparsely");

        var header = $"{{\"big\":{{\"dtype\":\"U8\",\"shape\":[{length}],\"data_offsets\":[0,{length}]}}}}";
        header += new string(' ', (8 - header.Length % 8) % 8);
        var path = dir.File("big.safetensors");
        var markers = new Dictionary<long, byte> { [0] = 1, [(1L << 30) - 1] = 2, [1L << 30] = 3, [(1L << 31) - 1] = 4, [1L << 31] = 5, [length - 1] = 6 };
        using (var fs = new FileStream(path, FileMode.CreateNew, FileAccess.Write))
        {
            Span<byte> n = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(n, (ulong)header.Length);
            fs.Write(n);
            fs.Write(Encoding.ASCII.GetBytes(header));
            long dataStart = fs.Position;
            fs.SetLength(dataStart + length);
            foreach (var (at, value) in markers)
            {
                fs.Position = dataStart + at;
                fs.WriteByte(value);
            }
        }

        using var file = SafetensorsFile.Open(path);
        Assert.Equal(length, file.GetEntry("big").ByteLength);
        using var big = file.Load("big");
        Assert.Equal([length], big.shape);
        foreach (var (at, value) in markers) Assert.Equal(value, big[at].item<byte>());
        Assert.Equal(0, big[12345].item<byte>());
        Assert.Equal(0, big[(1L << 31) + 1].item<byte>());
    }
}
