using System.Text.Json;
using TorchSharp;

namespace PeftSharp.IO.Safetensors;

/// <summary>
/// The weights of a Hugging Face model folder, whether saved as one model.safetensors or sharded with a
/// model.safetensors.index.json, behind one name-to-tensor API. Everything is validated when opening
/// (every shard's header, and that the index and the shards agree), so a broken download fails at once
/// with the file and key named, rather than halfway through building a model.
/// </summary>
public sealed class CheckpointReader : ITensorSource
{
    public const string SingleFileName = "model.safetensors";
    public const string IndexFileName = "model.safetensors.index.json";

    /// <summary>Bigger than any real index (a 1000-shard, 100k-tensor index is a few MB).</summary>
    private const long MaxIndexBytes = 100_000_000;

    private readonly List<SafetensorsFile> _files;
    private readonly Dictionary<string, SafetensorsFile> _owner;
    private readonly List<string> _keys;

    private CheckpointReader(string path, string? indexPath, List<SafetensorsFile> files,
        Dictionary<string, SafetensorsFile> owner, List<string> keys)
    {
        Path = path;
        IndexPath = indexPath;
        _files = files;
        _owner = owner;
        _keys = keys;
    }

    /// <summary>The folder or file that was opened.</summary>
    public string Path { get; }

    /// <summary>The index file of a sharded checkpoint; null for a single file.</summary>
    public string? IndexPath { get; }

    /// <summary>The open safetensors files (one, or every shard in file-name order).</summary>
    public IReadOnlyList<SafetensorsFile> Files => _files;

    /// <summary>Shard by shard in file-name order, each in file order.</summary>
    public IEnumerable<string> Keys => _keys;

    /// <summary>
    /// Opens model.safetensors, else model.safetensors.index.json, else the folder's only *.safetensors.index.json
    /// or only *.safetensors file. Refuses pickle-only folders and ambiguous ones, listing what is there.
    /// </summary>
    public static CheckpointReader OpenFolder(string dir)
    {
        ArgumentNullException.ThrowIfNull(dir);
        var folder = System.IO.Path.GetFullPath(dir);
        if (File.Exists(folder)) return OpenFile(folder);
        if (!Directory.Exists(folder)) throw new PeftException($"model folder {folder} does not exist");

        var single = System.IO.Path.Combine(folder, SingleFileName);
        if (File.Exists(single)) return FromSingle(single, folder);
        var index = System.IO.Path.Combine(folder, IndexFileName);
        if (File.Exists(index)) return FromIndex(index, folder);

        var names = Directory.EnumerateFiles(folder).Select(System.IO.Path.GetFileName).OfType<string>()
            .Order(StringComparer.Ordinal).ToList();
        var indexes = names.Where(n => n.EndsWith(".safetensors.index.json", StringComparison.Ordinal)).ToList();
        var weights = names.Where(n => n.EndsWith(".safetensors", StringComparison.Ordinal)).ToList();
        if (indexes.Count == 1) return FromIndex(System.IO.Path.Combine(folder, indexes[0]), folder);
        if (indexes.Count == 0 && weights.Count == 1) return FromSingle(System.IO.Path.Combine(folder, weights[0]), folder);
        if (indexes.Count + weights.Count > 1)
            throw new PeftException($"{folder} has no {SingleFileName} or {IndexFileName} and several candidates " +
                                    $"({string.Join(", ", indexes.Concat(weights))}); open the one you mean with OpenFile");

        var pickles = names.Where(n => PickleRefusal.HasPickleExtension(n) || n.EndsWith(".bin.index.json", StringComparison.Ordinal)).ToList();
        if (pickles.Count > 0) throw new PeftException(PickleRefusal.FolderMessage(folder, pickles));
        throw new PeftException($"{folder} has no model weights: expected {SingleFileName} or {IndexFileName}" +
                                (names.Count == 0 ? " (the folder is empty)" : $" (found: {string.Join(", ", names.Take(10))}{(names.Count > 10 ? ", ..." : "")})"));
    }

    /// <summary>Opens one .safetensors file, or a sharded checkpoint given its .index.json.</summary>
    public static CheckpointReader OpenFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        var full = System.IO.Path.GetFullPath(path);
        if (PickleRefusal.HasPickleExtension(full)) throw new PeftException(PickleRefusal.FileMessage(full));
        if (Directory.Exists(full)) return OpenFolder(full);
        if (full.EndsWith(".index.json", StringComparison.Ordinal))
        {
            if (!File.Exists(full)) throw new PeftException($"{full} does not exist");
            return FromIndex(full, System.IO.Path.GetDirectoryName(full)!);
        }
        return FromSingle(full, full);
    }

    public bool Contains(string name) => _owner.ContainsKey(name);

    public bool TryGetEntry(string name, out TensorEntry entry)
    {
        if (_owner.TryGetValue(name, out var file)) return file.TryGetEntry(name, out entry);
        entry = null!;
        return false;
    }

    /// <summary>Begin/End of the entry are relative to the data section of <see cref="FileOf"/>(name).</summary>
    public TensorEntry GetEntry(string name) => FileOf(name).GetEntry(name);

    /// <summary>The file (shard) that holds a tensor.</summary>
    public SafetensorsFile FileOf(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_owner.TryGetValue(name, out var file)) return file;
        throw new PeftException(NearKeys.NotFoundMessage(name, Path, _keys));
    }

    public torch.Tensor Load(string name, torch.Device? device = null, torch.ScalarType? dtype = null) =>
        FileOf(name).Load(name, device, dtype);

    public Dictionary<string, torch.Tensor> LoadAll(torch.Device? device = null, torch.ScalarType? dtype = null) =>
        SafetensorsFile.LoadMany(this, _keys, device, dtype);

    public void Dispose()
    {
        foreach (var f in _files) f.Dispose();
    }

    public override string ToString() => $"{Path} ({_keys.Count} tensors in {_files.Count} file(s))";

    private static CheckpointReader FromSingle(string file, string shownPath)
    {
        var f = SafetensorsFile.Open(file);
        var keys = f.Keys.ToList();
        return new CheckpointReader(shownPath, null, [f], keys.ToDictionary(k => k, _ => f, StringComparer.Ordinal), keys);
    }

    private static CheckpointReader FromIndex(string indexPath, string folder)
    {
        var weightMap = ReadWeightMap(indexPath);
        var files = new List<SafetensorsFile>();
        try
        {
            var byShard = weightMap.GroupBy(kv => kv.Value, StringComparer.Ordinal)
                .OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
            var owner = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
            var keys = new List<string>(weightMap.Count);
            foreach (var shard in byShard)
            {
                var shardPath = System.IO.Path.Combine(folder, shard.Key);
                if (!File.Exists(shardPath))
                    throw new SafetensorsFormatException(indexPath, shard.First().Key,
                        $"the index puts it in shard '{shard.Key}', which does not exist in {folder} (incomplete download?)");
                var file = SafetensorsFile.Open(shardPath);
                files.Add(file);
                var mapped = shard.Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
                foreach (var key in mapped.Order(StringComparer.Ordinal))
                {
                    if (!file.Contains(key))
                        throw new SafetensorsFormatException(indexPath, key,
                            $"the index puts it in shard '{shard.Key}', which has no such tensor; " +
                            NearKeys.NotFoundMessage(key, file.Path, file.Keys.ToList()));
                    owner.Add(key, file);
                }
                keys.AddRange(file.Keys.Where(mapped.Contains));
            }
            return new CheckpointReader(folder, indexPath, files, owner, keys);
        }
        catch
        {
            foreach (var f in files) f.Dispose();
            throw;
        }
    }

    /// <summary>Reads "weight_map" (tensor name to shard file name) and checks every shard name is a plain file name.</summary>
    private static Dictionary<string, string> ReadWeightMap(string indexPath)
    {
        long length = new FileInfo(indexPath).Length;
        if (length > MaxIndexBytes)
            throw new SafetensorsFormatException(indexPath, null, $"index is {length} bytes; more than {MaxIndexBytes} is not a real index");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllBytes(indexPath), new JsonDocumentOptions { MaxDepth = 16 });
        }
        catch (JsonException e)
        {
            throw new SafetensorsFormatException(indexPath, null, $"index is not valid JSON: {e.Message}", e);
        }
        using (doc)
        {
            try
            {
                return WeightMapFromJson(doc.RootElement, indexPath);
            }
            catch (InvalidOperationException e)
            {
                throw new SafetensorsFormatException(indexPath, null, $"index holds a string that is not valid text: {e.Message}", e);
            }
        }
    }

    private static Dictionary<string, string> WeightMapFromJson(JsonElement root, string indexPath)
    {
        if (root.ValueKind != JsonValueKind.Object)
            throw new SafetensorsFormatException(indexPath, null, "index must be a JSON object with a \"weight_map\"");
        JsonElement? found = null;
        foreach (var p in root.EnumerateObject())
        {
            if (p.Name != "weight_map") continue;
            if (found != null) throw new SafetensorsFormatException(indexPath, null, "\"weight_map\" appears more than once");
            found = p.Value;
        }
        if (found is not { ValueKind: JsonValueKind.Object } map)
            throw new SafetensorsFormatException(indexPath, null, "index has no \"weight_map\" object (tensor name -> shard file)");

        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in map.EnumerateObject())
        {
            if (p.Value.ValueKind != JsonValueKind.String)
                throw new SafetensorsFormatException(indexPath, p.Name, $"weight_map value is a JSON {p.Value.ValueKind.ToString().ToLowerInvariant()}, not a shard file name");
            var shard = p.Value.GetString()!;
            if (!IsPlainFileName(shard))
                throw new SafetensorsFormatException(indexPath, p.Name,
                    $"shard '{shard}' is not a plain file name in the model folder; paths are refused so an index cannot point outside its folder");
            if (PickleRefusal.HasPickleExtension(shard))
                throw new PeftException($"{indexPath}: shard '{shard}' is a PyTorch pickle file. {PickleRefusal.Advice(shard)}");
            if (!result.TryAdd(p.Name, shard))
                throw new SafetensorsFormatException(indexPath, p.Name, "weight_map lists this tensor more than once");
        }
        if (result.Count == 0) throw new SafetensorsFormatException(indexPath, null, "weight_map is empty");
        return result;
    }

    private static bool IsPlainFileName(string name) =>
        name.Length > 0 && name != "." && name != ".." &&
        name.IndexOfAny(['/', '\\', ':', '\0']) < 0 &&
        !System.IO.Path.IsPathRooted(name) &&
        System.IO.Path.GetFileName(name) == name;
}
