using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using Recur.Data;
using Recur.Models;

namespace Recur.Tests.Data;

/// <summary>
/// Writes NumPy .npy/.npz files byte by byte as NumPy's format specification describes them (independently of the
/// reader under test): magic, version, little-endian header length, an ASCII dict padded with spaces to a multiple of
/// 64 bytes and ended by a newline, then the raw data.
/// </summary>
public static class NpyWriter
{
    public static byte[] Bytes(string descr, int[] shape, byte[] data, bool fortran = false, int version = 1)
    {
        string shapeText = shape.Length == 1 ? $"({shape[0]},)" : $"({string.Join(", ", shape)})";
        string dict = $"{{'descr': '{descr}', 'fortran_order': {(fortran ? "True" : "False")}, 'shape': {shapeText}, }}";
        int prefix = version == 1 ? 10 : 12;
        int total = prefix + dict.Length + 1;
        int padded = (total + 63) / 64 * 64;
        string header = dict + new string(' ', padded - total) + "\n";
        var ms = new MemoryStream();
        ms.Write([0x93, (byte)'N', (byte)'U', (byte)'M', (byte)'P', (byte)'Y', (byte)version, 0]);
        if (version == 1) { var l = new byte[2]; BinaryPrimitives.WriteUInt16LittleEndian(l, (ushort)header.Length); ms.Write(l); }
        else { var l = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(l, (uint)header.Length); ms.Write(l); }
        ms.Write(Encoding.ASCII.GetBytes(header));
        ms.Write(data);
        return ms.ToArray();
    }

    public static byte[] Float32(float[] values, params int[] shape)
    {
        var data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(i * 4), values[i]);
        return Bytes("<f4", shape, data);
    }

    public static byte[] Float64BigEndian(double[] values, params int[] shape)
    {
        var data = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteDoubleBigEndian(data.AsSpan(i * 8), values[i]);
        return Bytes(">f8", shape, data);
    }

    public static byte[] Int64(long[] values, params int[] shape)
    {
        var data = new byte[values.Length * 8];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteInt64LittleEndian(data.AsSpan(i * 8), values[i]);
        return Bytes("<i8", shape, data);
    }

    /// <summary>A '&lt;U{width}' array: UTF-32 little-endian code points, NUL-padded.</summary>
    public static byte[] Unicode(string[] values, int width)
    {
        var data = new byte[values.Length * width * 4];
        for (int i = 0; i < values.Length; i++)
            for (int c = 0; c < values[i].Length; c++) BinaryPrimitives.WriteInt32LittleEndian(data.AsSpan((i * width + c) * 4), values[i][c]);
        return Bytes($"<U{width}", [values.Length], data);
    }

    /// <summary>An .npz: a zip with one NAME.npy entry per array (deflated, as np.savez_compressed writes it, or stored).</summary>
    public static byte[] Npz(bool compressed, params (string Name, byte[] Npy)[] arrays)
    {
        var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
            foreach (var (name, npy) in arrays)
            {
                var e = zip.CreateEntry(name + ".npy", compressed ? CompressionLevel.Optimal : CompressionLevel.NoCompression);
                using var s = e.Open();
                s.Write(npy);
            }
        return ms.ToArray();
    }
}

/// <summary>The NumPy reader, the sequence readers (arrays and long CSV) and feature batching, against hand-made files.</summary>
public class NumericSequenceTests
{
    [Fact]
    public void Npy_float32_float64_big_endian_int64_and_unicode_read_back_exactly()
    {
        var a = NumPy.ParseNpy(NpyWriter.Float32([1.5f, -2f, 0.25f, 3f, 4f, 5f], 2, 3), "a.npy");
        Assert.Equal([2, 3], a.Shape);
        Assert.Equal("<f4", a.DType);
        Assert.True(a.IsFloat);
        Assert.Equal([1.5, -2, 0.25, 3, 4, 5], a.Numbers!);

        var b = NumPy.ParseNpy(NpyWriter.Float64BigEndian([Math.PI, -1e300], 2), "b.npy");
        Assert.Equal([Math.PI, -1e300], b.Numbers!);
        Assert.Equal("(2,)", b.ShapeText);

        var c = NumPy.ParseNpy(NpyWriter.Int64([7, -3, 1L << 40], 3), "c.npy");
        Assert.Equal([7.0, -3.0, 1099511627776.0], c.Numbers!);
        Assert.Equal("-3", c.Text(1));

        var u = NumPy.ParseNpy(NpyWriter.Unicode(["sine", "saw", "é"], 4), "u.npy");
        Assert.Equal(["sine", "saw", "é"], u.Strings!);

        var v2 = NumPy.ParseNpy(NpyWriter.Bytes("<f4", [1], BitConverter.GetBytes(2.5f), version: 2), "v2.npy");
        Assert.Equal([2.5], v2.Numbers!);
    }

    [Fact]
    public void Npy_errors_name_the_file_and_say_what_was_expected()
    {
        static string Error(byte[] bytes) => Assert.Throws<RecurFormatException>(() => NumPy.ParseNpy(bytes, "x.npy")).Message;

        Assert.Equal("x.npy: magic: expected a NumPy .npy file (starting with \\x93NUMPY), found 'PK\\x03\\x04\\x14\\x00'",
            Error([(byte)'P', (byte)'K', 3, 4, 0x14, 0, 0, 0, 0, 0, 0]));
        Assert.Equal("x.npy: header field 'fortran_order': expected C (row-major) order, found a Fortran-ordered array: save np.ascontiguousarray(x) instead",
            Error(NpyWriter.Bytes("<f4", [2, 2], new byte[16], fortran: true)));
        var full = NpyWriter.Float32([1, 2, 3, 4], 4);
        Assert.Equal("x.npy: data: expected 16 bytes for shape (4,) of <f4, found 10 (truncated file?)", Error(full[..^6]));
        Assert.StartsWith("x.npy: header field 'descr': expected a numeric, bool or string dtype (f2/f4/f8, i1..i8, u1..u8, b1, U, S), found '|O' (an object array",
            Error(NpyWriter.Bytes("|O", [1], new byte[8])));
        Assert.StartsWith("x.npy: header field 'descr': expected a numeric, bool or string dtype", Error(NpyWriter.Bytes("<c8", [1], new byte[8])));
        Assert.Equal("x.npy: version: expected .npy format version 1.0, 2.0 or 3.0, found 9.0", Error([0x93, .. "NUMPY"u8.ToArray(), 9, 0, 0, 0]));
        Assert.Equal("x.npy: header: expected a header of 118 bytes, found 20 (truncated file?)", Error(full[..30]));
    }

    [Fact]
    public void Npz_holds_features_labels_and_lengths_stored_or_deflated()
    {
        using var d = new TempDir();
        // 3 sequences x 4 steps x 2 features; lengths 4, 2, 1 (values past a length are ignored, even NaN).
        float[] x = [1, 10, 2, 20, 3, 30, 4, 40, 5, 50, 6, 60, float.NaN, 0, 7, 7, 8, 80, 9, 9, 9, 9, 9, 9];
        foreach (bool compressed in new[] { false, true })
        {
            string path = d.Bytes($"s{compressed}.npz", NpyWriter.Npz(compressed,
                ("x", NpyWriter.Float32(x, 3, 4, 2)), ("y", NpyWriter.Unicode(["a", "b", "a"], 1)), ("lengths", NpyWriter.Int64([4, 2, 1], 3))));
            var s = SequenceFiles.ReadArrays(path);
            Assert.Equal(2, s.Features);
            Assert.Equal(3, s.Count);
            Assert.Equal([1f, 10, 2, 20, 3, 30, 4, 40], s.Steps[0]);
            Assert.Equal([5f, 50, 6, 60], s.Steps[1]);
            Assert.Equal([8f, 80], s.Steps[2]);
            Assert.Equal(["a", "b", "a"], s.Labels!);
            Assert.Equal(["0", "1", "2"], s.Ids);
        }
        string bad = d.Bytes("bad.npz", NpyWriter.Npz(false, ("x", NpyWriter.Float32(x, 3, 4, 2)), ("lengths", NpyWriter.Int64([4, 5, 1], 3))));
        Assert.Equal($"{bad}: array 'lengths' element 1: expected an integer length in [1, 4] (the steps of 'x'), found 5",
            Assert.Throws<RecurFormatException>(() => SequenceFiles.ReadArrays(bad)).Message);
        string noX = d.Bytes("nox.npz", NpyWriter.Npz(false, ("features", NpyWriter.Float32(x, 3, 4, 2))));
        Assert.Equal($"{noX}: array 'x': expected the features as an array named 'x' (or 'X'), found 'features'",
            Assert.Throws<RecurFormatException>(() => SequenceFiles.ReadArrays(noX)).Message);
        string notZip = d.Bytes("notzip.npz", [1, 2, 3, 4]);
        Assert.StartsWith($"{notZip}: file: expected an .npz file (a zip archive of .npy arrays)", Assert.Throws<RecurFormatException>(() => SequenceFiles.ReadArrays(notZip)).Message);
    }

    [Fact]
    public void Npy_features_take_NaN_padding_as_the_end_and_labels_from_a_separate_file()
    {
        using var d = new TempDir();
        float n = float.NaN;
        // (3, 3): one feature per step; lengths 3, 1, 2 by trailing NaN.
        string x = d.Bytes("x.npy", NpyWriter.Float32([1, 2, 3, 4, n, n, 5, 6, n], 3, 3));
        string y = d.Bytes("y.npy", NpyWriter.Int64([0, 1, 1], 3));
        var s = SequenceFiles.ReadArrays(x, y);
        Assert.Equal(1, s.Features);
        Assert.Equal([3, 1, 2], Enumerable.Range(0, 3).Select(s.Length));
        Assert.Equal([5f, 6], s.Steps[2]);
        Assert.Equal(["0", "1", "1"], s.Labels!);
        Assert.Equal(["x", "y", "y"], SequenceFiles.ReadArrays(x, d.File("y.txt", "x\ny\ny\n")).Labels!);

        string gap = d.Bytes("gap.npy", NpyWriter.Float32([1, n, 3, 4, 5, 6], 2, 3));
        Assert.Equal($"{gap}: sequence 0 step 2 feature 0: expected NaN: the sequence ends with its all-NaN step 1 (NaN padding runs to the end), found 3",
            Assert.Throws<RecurFormatException>(() => SequenceFiles.ReadArrays(gap)).Message);
        string partial = d.Bytes("partial.npy", NpyWriter.Float32([1, 2, n, 4], 1, 2, 2));
        Assert.Equal($"{partial}: sequence 0 step 1 feature 0: expected a finite number (a padding step has NaN in every feature), found NaN",
            Assert.Throws<RecurFormatException>(() => SequenceFiles.ReadArrays(partial)).Message);
        string two = d.Bytes("two.npy", NpyWriter.Float32([1, 2, 3, 4, 5, 6], 2, 3));
        Assert.Equal($"{y}: file: expected one label per sequence (2, as the features (2, 3) hold), found 3",
            Assert.Throws<RecurFormatException>(() => SequenceFiles.ReadArrays(two, y)).Message);
        string rank4 = d.Bytes("r4.npy", NpyWriter.Float32(new float[8], 1, 2, 2, 2));
        Assert.Equal($"{rank4}: array 'x' shape: expected (N, T, F) sequences of feature vectors, or (N, T) with one feature per step, found (1, 2, 2, 2)",
            Assert.Throws<RecurFormatException>(() => SequenceFiles.ReadArrays(rank4)).Message);
        Assert.Equal($"{x}: array 'x' shape: expected at most 2 steps per sequence, found 3 in (3, 3)",
            Assert.Throws<RecurFormatException>(() => SequenceFiles.ReadArrays(x, null, new ReadLimits(MaxSequenceLength: 2))).Message);
    }

    [Fact]
    public void Long_csv_groups_rows_by_sequence_in_step_order_and_names_the_line_of_every_error()
    {
        using var d = new TempDir();
        // Rows of sequence "b" come before and after "a"'s, out of step order.
        string path = d.File("long.csv", "sequence_id,step,x,y,label\nb,1,3,30,up\nb,0,2,20,up\na,0,1,10,down\nb,2,4,40,up\n");
        var s = SequenceFiles.ReadLongCsv(path, "label");
        Assert.Equal(["b", "a"], s.Ids);
        Assert.Equal(["up", "down"], s.Labels!);
        Assert.Equal(2, s.Features);
        Assert.Equal([2f, 20, 3, 30, 4, 40], s.Steps[0]);
        Assert.Equal([1f, 10], s.Steps[1]);
        Assert.Equal(["line 2", "line 4"], s.Locations);

        var unlabelled = SequenceFiles.ReadLongCsv(d.File("u.csv", "sequence_id,step,x\nq,5,1\nq,6,2\n"), null);
        Assert.Null(unlabelled.Labels);
        Assert.Equal([1f, 2], unlabelled.Steps[0]);

        string Error(string name, string text) => Assert.Throws<RecurFormatException>(() => SequenceFiles.ReadLongCsv(d.File(name, text), "label")).Message;
        string p = Path.Combine(d.Path, "e1.csv");
        Assert.Equal($"{p}: line 3 field 'label': expected the label of sequence 'a' on every row ('up' on line 2), found 'down'",
            Error("e1.csv", "sequence_id,step,x,label\na,0,1,up\na,1,2,down\n"));
        p = Path.Combine(d.Path, "e2.csv");
        Assert.Equal($"{p}: line 3 field 'step': expected step 1 of sequence 'a' after step 0 (line 2), found 2: steps must have no gaps",
            Error("e2.csv", "sequence_id,step,x,label\na,0,1,up\na,2,2,up\n"));
        p = Path.Combine(d.Path, "e3.csv");
        Assert.Equal($"{p}: line 3 field 'step': expected each step of sequence 'a' once, found step 0 again (also on line 2)",
            Error("e3.csv", "sequence_id,step,x,label\na,0,1,up\na,0,2,up\n"));
        p = Path.Combine(d.Path, "e4.csv");
        Assert.Equal($"{p}: line 2 column 'x': expected a finite number, found \"abc\"", Error("e4.csv", "sequence_id,step,x,label\na,0,abc,up\n"));
        p = Path.Combine(d.Path, "e5.csv");
        Assert.Equal($"{p}: line 2 field 'step': expected an integer step, found '0.5'", Error("e5.csv", "sequence_id,step,x,label\na,0.5,1,up\n"));
        p = Path.Combine(d.Path, "e6.csv");
        Assert.Equal($"{p}: step column (header): expected a column named 'step', found [sequence_id, t, x, label]", Error("e6.csv", "sequence_id,t,x,label\na,0,1,up\n"));
    }

    [Fact]
    public void Feature_batches_pad_with_zeros_and_standardise_each_step()
    {
        float[][] seqs = [[1, 10, 2, 20], [3, 30], [5, 50, 6, 60, 7, 70]];
        var b = SequenceBatch.FromFeatures(seqs, 2, [2, 1], targets: [0, 1, 2], values: [0.5f, 1.5f, 2.5f]);
        Assert.Equal([3, 1], b.Lengths);
        Assert.Equal(3, b.Steps);
        Assert.Equal([2, 3, 2], b.Features!.Shape.ToArray());
        Assert.Equal([5f, 50, 6, 60, 7, 70, 3, 30, 0, 0, 0, 0], b.Features.ToArray());
        Assert.Equal([2, 1], b.Targets!);
        Assert.Equal([2.5f, 1.5f], b.Values!.ToArray());

        var st = new Standardizer([1f, 10f], [2f, 5f]);
        var z = SequenceBatch.FromFeatures(seqs, 2, standardizer: st);
        Assert.Equal([0f, 0, 0.5f, 2, 0, 0, 1, 4, 0, 0, 0, 0, 2, 8, 2.5f, 10, 3, 12], z.Features!.ToArray());
        Assert.Throws<ArgumentException>(() => SequenceBatch.FromFeatures([[1f, 2f, 3f]], 2));
    }
}
