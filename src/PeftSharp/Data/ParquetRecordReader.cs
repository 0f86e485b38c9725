using System.Text.Json.Nodes;
using Parquet;
using Parquet.Schema;

namespace PeftSharp.Data;

/// <summary>
/// Reads the flat columns of a Parquet file (strings, integers, booleans, floating point) one row group at a time, so
/// memory is bounded by the largest row group rather than the file. Nested columns (lists, structs, maps) are not read.
/// </summary>
internal static class ParquetRecordReader
{
    public static IEnumerable<DataRecord> Read(string path)
    {
        ParquetReader reader;
        try
        {
            reader = ParquetReader.CreateAsync(path).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or NotSupportedException or ArgumentException)
        {
            throw new PeftException($"{path}: not a readable Parquet file ({e.Message})", e);
        }
        try
        {
            var columns = reader.Schema.Fields.OfType<DataField>().Where(f => !f.IsArray && IsSupported(f.ClrType)).ToArray();
            if (columns.Length == 0)
                throw new PeftException($"{path}: no column of a supported type (string, integer, boolean, floating point)");
            long row = 0;
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                JsonNode?[][] values;
                int count;
                using (var group = reader.OpenRowGroupReader(g))
                {
                    count = checked((int)group.RowCount);
                    values = new JsonNode?[columns.Length][];
                    for (int c = 0; c < columns.Length; c++)
                    {
                        try
                        {
                            values[c] = ReadColumn(group, columns[c], count).GetAwaiter().GetResult();
                        }
                        catch (Exception e) when (e is IOException or InvalidDataException or InvalidOperationException or NotSupportedException or ArgumentException)
                        {
                            throw new PeftException($"{path}: row group {g}, column \"{columns[c].Name}\" cannot be read ({e.Message})", e);
                        }
                    }
                }
                for (int r = 0; r < count; r++)
                {
                    row++;
                    var fields = new Dictionary<string, JsonNode?>(columns.Length, StringComparer.Ordinal);
                    for (int c = 0; c < columns.Length; c++) fields[columns[c].Name] = values[c][r];
                    yield return new DataRecord(fields, path, row);
                }
            }
        }
        finally
        {
            reader.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Parquet.Net 6 reports UTF-8 string columns as ReadOnlyMemory&lt;char&gt;; older files and writers as string.</summary>
    private static bool IsString(Type t) => t == typeof(string) || t == typeof(ReadOnlyMemory<char>);

    private static bool IsSupported(Type t) =>
        IsString(t) || t == typeof(bool) || t == typeof(float) || t == typeof(double) || IsInteger(t);

    private static bool IsInteger(Type t) =>
        t == typeof(long) || t == typeof(int) || t == typeof(short) || t == typeof(sbyte)
        || t == typeof(ulong) || t == typeof(uint) || t == typeof(ushort) || t == typeof(byte);

    private static async Task<JsonNode?[]> ReadColumn(ParquetRowGroupReader group, DataField field, int count)
    {
        var t = field.ClrType;
        if (IsString(t))
        {
            var strings = new string?[count];
            await group.ReadAsync(field, strings.AsMemory(), null);
            return strings.Select(s => s is null ? null : (JsonNode)JsonValue.Create(s)).ToArray();
        }
        if (t == typeof(bool)) return await Read<bool>(group, field, count, b => JsonValue.Create(b));
        if (t == typeof(float)) return await Read<float>(group, field, count, f => JsonValue.Create((double)f));
        if (t == typeof(double)) return await Read<double>(group, field, count, d => JsonValue.Create(d));
        if (t == typeof(long)) return await Read<long>(group, field, count, v => JsonValue.Create(v));
        if (t == typeof(int)) return await Read<int>(group, field, count, v => JsonValue.Create((long)v));
        if (t == typeof(short)) return await Read<short>(group, field, count, v => JsonValue.Create((long)v));
        if (t == typeof(sbyte)) return await Read<sbyte>(group, field, count, v => JsonValue.Create((long)v));
        if (t == typeof(byte)) return await Read<byte>(group, field, count, v => JsonValue.Create((long)v));
        if (t == typeof(ushort)) return await Read<ushort>(group, field, count, v => JsonValue.Create((long)v));
        if (t == typeof(uint)) return await Read<uint>(group, field, count, v => JsonValue.Create((long)v));
        if (t == typeof(ulong)) return await Read<ulong>(group, field, count, v => JsonValue.Create(v));
        throw new NotSupportedException($"column type {t.Name}");
    }

    private static async Task<JsonNode?[]> Read<T>(ParquetRowGroupReader group, DataField field, int count, Func<T, JsonNode> convert) where T : struct
    {
        var result = new JsonNode?[count];
        if (field.IsNullable)
        {
            var values = new T?[count];
            await group.ReadAsync<T>(field, values.AsMemory(), null);
            for (int i = 0; i < count; i++) result[i] = values[i] is { } v ? convert(v) : null;
        }
        else
        {
            var values = new T[count];
            await group.ReadAsync<T>(field, values.AsMemory(), null);
            for (int i = 0; i < count; i++) result[i] = convert(values[i]);
        }
        return result;
    }
}
