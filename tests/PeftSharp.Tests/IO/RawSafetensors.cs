using System.Buffers.Binary;
using System.Text;

namespace PeftSharp.Tests.IO;

/// <summary>Builds safetensors bytes by hand, so tests can make files our writer would never produce.</summary>
internal static class RawSafetensors
{
    public static byte[] Build(string headerJson, byte[]? data = null, ulong? headerLength = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        return Build(header, data, headerLength);
    }

    public static byte[] Build(byte[] header, byte[]? data = null, ulong? headerLength = null)
    {
        data ??= [];
        var bytes = new byte[8 + header.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLength ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + header.Length);
        return bytes;
    }

    public static string Fixture(params string[] parts) =>
        Path.Combine([AppContext.BaseDirectory, "TestData", "fixtures", .. parts]);
}
