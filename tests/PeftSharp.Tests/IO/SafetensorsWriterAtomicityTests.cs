using PeftSharp.IO.Safetensors;
using TorchSharp;

namespace PeftSharp.Tests.IO;

public class SafetensorsWriterAtomicityTests
{
    private static (TempDir Dir, string Path, byte[] Before) ExistingFile()
    {
        var dir = new TempDir();
        var path = dir.File("model.safetensors");
        using var old = torch.arange(10, dtype: torch.ScalarType.Float32);
        SafetensorsWriter.Write(path, [new("old", old)]);
        return (dir, path, File.ReadAllBytes(path));
    }

    [Fact]
    public void UnsupportedDTypeLeavesTheOldFileAndNoTempFiles()
    {
        var (dir, path, before) = ExistingFile();
        using (dir)
        {
            using var good = torch.ones(1000);
            using var complex = torch.zeros(4, dtype: torch.ScalarType.ComplexFloat32);
            Assert.Throws<PeftException>(() => SafetensorsWriter.Write(path, [new("good", good), new("z", complex)]));
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFileSystemEntries(dir.Path));
        }
    }

    [Fact]
    public void FailureAfterDataWasStreamedLeavesTheOldFileAndNoTempFiles()
    {
        // A meta tensor has a dtype and shape but no data: it passes planning and fails only when its
        // bytes are fetched, after the header and tensor "a" are already in the temporary file.
        var (dir, path, before) = ExistingFile();
        using (dir)
        {
            using var a = torch.ones(100_000);
            using var meta = torch.empty([4], torch.ScalarType.Float32, device: new torch.Device(DeviceType.META));
            Assert.ThrowsAny<Exception>(() => SafetensorsWriter.Write(path, [new("a", a), new("b", meta)]));
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFileSystemEntries(dir.Path));
            using var file = SafetensorsFile.Open(path);
            Assert.Equal(["old"], file.Keys);
        }
    }

    [Fact]
    public void SuccessfulWriteReplacesTheFileAndLeavesNothingElse()
    {
        var (dir, path, _) = ExistingFile();
        using (dir)
        {
            using var t = torch.ones(3);
            SafetensorsWriter.Write(path, [new("new", t)]);
            Assert.Equal([path], Directory.GetFileSystemEntries(dir.Path));
            using var file = SafetensorsFile.Open(path);
            Assert.Equal(["new"], file.Keys);
        }
    }

    [Fact]
    public void MissingFolderIsAUserError()
    {
        using var dir = new TempDir();
        using var t = torch.ones(1);
        var e = Assert.Throws<PeftException>(() => SafetensorsWriter.Write(dir.File("sub/x.safetensors"), [new("t", t)]));
        Assert.Contains("does not exist", e.Message);
    }
}
