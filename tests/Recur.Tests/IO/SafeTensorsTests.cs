using System.Buffers.Binary;
using System.Text;
using Recur.IO;
using Recur.Tensors;

namespace Recur.Tests.IO;

public class SafeTensorsTests
{
    private static byte[] Build(string header, byte[] data)
    {
        var h = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + h.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, (ulong)h.Length);
        h.CopyTo(bytes, 8);
        data.CopyTo(bytes, 8 + h.Length);
        return bytes;
    }

    [Fact]
    public void RoundTripsTensorsAndMetadata()
    {
        string path = Path.Combine(Path.GetTempPath(), $"recur-st-{Guid.NewGuid():N}.safetensors");
        try
        {
            var a = Tensor.FromArray([1f, -2.5f, 3f, 4f, 5f, 6f], 2, 3);
            var b = Tensor.FromArray([float.Epsilon], 1);
            SafeTensorsFile.Save(path, [new("a", a), new("b", b)], new Dictionary<string, string> { ["kind"] = "test" });
            var st = SafeTensorsFile.Load(path);
            Assert.Equal("test", st.Metadata["kind"]);
            Assert.Equal([2, 3], st.Info("a").Shape);
            Assert.Equal(a.ToArray(), st.ReadFloat32("a"));
            Assert.Equal(b.ToArray(), st.ReadTensor("b").ToArray());
            Assert.DoesNotContain(Directory.GetFiles(Path.GetTempPath(), $"*{AtomicFile.TempSuffix}"), f => f.Contains(Path.GetFileName(path)));
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void ReadsTheGoldenFilesHeaders()
    {
        var dir = Support.Repo.GoldenDir;
        if (!Directory.Exists(dir)) Assert.Skip($"golden folder {dir} is absent");
        var file = Directory.GetFiles(dir, "lstm_single.safetensors").FirstOrDefault();
        if (file is null) Assert.Skip("lstm_single.safetensors is absent");
        var st = SafeTensorsFile.Load(file);
        Assert.Equal(SafeTensorDType.F64, st.Info("x").DType);
        Assert.Equal([5, 2, 3], st.Info("x").Shape);
    }

    public static TheoryData<string, byte[], string> Malformed()
    {
        var f32x2 = new byte[8];
        return new TheoryData<string, byte[], string>
        {
            { "short", new byte[5], "expected at least 8 bytes, found 5" },
            { "header past end", Build("{}", [])[..7].Concat(new byte[] { 0 }).ToArray(), "runs past the end" },
            { "huge header", BitConverter.GetBytes(ulong.MaxValue), "expected at most" },
            { "a text file", "The food was great\tpos\nAwful\tneg\n"u8.ToArray(), "found text (\"The food was great" },
            { "not json", Build("{nope", []), "expected valid JSON" },
            { "not object", Build("[1]", []), "expected an object" },
            { "bad dtype", Build("{\"x\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,8]}}", f32x2), "found 'F16'" },
            { "negative dim", Build("{\"x\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", f32x2), "non-negative integers" },
            { "size mismatch", Build("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", f32x2), "needs 12 bytes, found 8" },
            { "offsets past end", Build("{\"x\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", f32x2), "runs past the 8-byte data section" },
            { "overlap", Build("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", f32x2), "overlaps" },
            { "hole", Build("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", f32x2), "hole" },
            { "trailing bytes", Build("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", f32x2), "expected 4 bytes of tensor data, found 8" },
            { "metadata not strings", Build("{\"__metadata__\":{\"a\":1}}", []), "expected a string" },
        };
    }

    [Theory]
    [MemberData(nameof(Malformed))]
    public void MalformedFilesGetAFormatErrorNamingThePlace(string what, byte[] bytes, string expected)
    {
        var e = Assert.Throws<RecurFormatException>(() => SafeTensorsFile.Parse(bytes, "model.safetensors"));
        Assert.StartsWith("model.safetensors: ", e.Message);
        Assert.Contains(expected, e.Message);
        Assert.False(string.IsNullOrEmpty(what));
    }

    [Fact]
    public void MissingTensorIsNamed()
    {
        var st = SafeTensorsFile.Parse(Build("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]), "f");
        var e = Assert.Throws<RecurFormatException>(() => st.ReadFloat32("w"));
        Assert.Contains("'w'", e.Message);
        Assert.Contains("present: x", e.Message);
        var e2 = Assert.Throws<RecurFormatException>(() => st.ReadInt64("x"));
        Assert.Contains("expected I64, I32 or U8, found F32", e2.Message);
    }
}
