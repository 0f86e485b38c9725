using static TorchSharp.torch;

namespace PeftSharp.Models;

/// <summary>
/// Keys and values of the positions already processed, one entry per attention layer, so that
/// generation feeds only the new token each step. Tensors are [batch, kv_heads, seq, head_dim].
/// The cache owns its tensors: they are detached from any dispose scope and freed by Dispose.
/// </summary>
public sealed class KVCache : IDisposable
{
    private readonly Tensor?[] _keys;
    private readonly Tensor?[] _values;

    public KVCache(int layers)
    {
        _keys = new Tensor?[layers];
        _values = new Tensor?[layers];
    }

    /// <summary>Number of positions cached (0 before the first forward).</summary>
    public long Length => _keys[0] is { } k ? k.shape[2] : 0;

    /// <summary>The cached keys and values of a layer (aliases; for turning a cache into a <see cref="KeyValuePrefix"/>).</summary>
    public (Tensor Keys, Tensor Values) Get(int layer)
    {
        if (_keys[layer] is not { } k || _values[layer] is not { } v) throw new InvalidOperationException($"layer {layer} has nothing cached yet");
        return (k.alias(), v.alias());
    }

    /// <summary>Appends this step's keys and values for a layer and returns the full sequences.</summary>
    public (Tensor Keys, Tensor Values) Append(int layer, Tensor keys, Tensor values)
    {
        var k = _keys[layer] is { } pk ? cat([pk, keys], 2) : keys.alias();
        var v = _values[layer] is { } pv ? cat([pv, values], 2) : values.alias();
        _keys[layer]?.Dispose();
        _values[layer]?.Dispose();
        _keys[layer] = k.detach().DetachFromDisposeScope();
        _values[layer] = v.detach().DetachFromDisposeScope();
        return (_keys[layer]!.alias(), _values[layer]!.alias());
    }

    /// <summary>Keeps only the given batch rows (for example when some sequences have finished).</summary>
    public void Select(Tensor rowIndices)
    {
        for (int i = 0; i < _keys.Length; i++)
        {
            if (_keys[i] is { } k) { _keys[i] = k.index_select(0, rowIndices).DetachFromDisposeScope(); k.Dispose(); }
            if (_values[i] is { } v) { _values[i] = v.index_select(0, rowIndices).DetachFromDisposeScope(); v.Dispose(); }
        }
    }

    public void Dispose()
    {
        foreach (var t in _keys.Concat(_values)) t?.Dispose();
        Array.Clear(_keys);
        Array.Clear(_values);
    }
}
