using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Recur.Data;
using Recur.IO;
using Recur.Tensors;

namespace Recur.Tests.Data;

public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"recur-test-{Guid.NewGuid():N}");
    public TempDir() => Directory.CreateDirectory(Path);
    public string File(string name, string content)
    {
        string p = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllText(p, content, new UTF8Encoding(false));
        return p;
    }
    public string Bytes(string name, byte[] content)
    {
        string p = System.IO.Path.Combine(Path, name);
        System.IO.File.WriteAllBytes(p, content);
        return p;
    }
    public void Dispose() => Directory.Delete(Path, recursive: true);
}

public class TokenizerTests
{
    [Fact]
    public void VocabularyPutsSpecialsFirstThenByFrequencyAndIsDeterministic()
    {
        var v = Vocabulary.Build(["b", "a", "b", "c", "a", "b", "d"], minCount: 2);
        Assert.Equal(["<pad>", "<unk>", "b", "a"], v.Tokens);
        Assert.Equal(1, v.Id("c"));
        Assert.Equal(2, v.Id("b"));
        Assert.Equal(v.Tokens, Vocabulary.Build(["d", "a", "b", "c", "b", "a", "b"], minCount: 2).Tokens);
        Assert.Throws<ArgumentException>(() => new Vocabulary(["a", "<pad>"]));
    }

    [Fact]
    public void WordTokenizerSplitsWordsAndPunctuationLowercasesAndMapsUnknowns()
    {
        var tok = WordTokenizer.Build(["The movie wasn't good.", "the MOVIE was great!"], lowercase: true);
        Assert.Equal(["the", "movie", "wasn't", "good", "."], WordTokenizer.Split("The movie wasn't good.", true));
        var ids = tok.Encode("The plot was good!");
        Assert.Equal(tok.Vocabulary.UnkId, ids[1]); // "plot" was never seen
        Assert.Equal("the <unk> was good !", tok.Decode(ids));
    }

    [Fact]
    public void CharTokenizerRoundTripsIncludingNonBmpCharacters()
    {
        string text = "héllo 😀 wörld";
        var tok = CharTokenizer.Build(text);
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
        Assert.Equal(text.EnumerateRunes().Count(), tok.Encode(text).Length);
    }

    [Fact]
    public void BpeTokenizerUsesGpt2MergesAndAKnownSubwordVocabulary()
    {
        var tok = BpeTokenizer.Build(["unbelievable tokenization", "believable tokens"]);
        string text = "unbelievable tokens";
        Assert.Equal(text, tok.Decode(tok.Encode(text)));
        Assert.True(BpeTokenizer.Split("tokenization").Count() > 1, "a long rare word splits into subwords");
        Assert.Contains(tok.Vocabulary.UnkId, tok.Encode("zxqv"));
    }

    [Theory]
    [InlineData("char")]
    [InlineData("word")]
    [InlineData("bpe")]
    public void TokenizersRoundTripThroughJson(string kind)
    {
        string[] texts = ["A cat sat.", "the dog ran"];
        ITokenizer tok = kind switch
        {
            "char" => CharTokenizer.Build(string.Concat(texts)),
            "word" => WordTokenizer.Build(texts, lowercase: false),
            _ => BpeTokenizer.Build(texts),
        };
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) tok.Write(w);
        var back = Tokenizers.Read(JsonDocument.Parse(ms.ToArray()).RootElement);
        Assert.Equal(tok.Kind, back.Kind);
        Assert.Equal(tok.Vocabulary.Tokens, back.Vocabulary.Tokens);
        Assert.Equal(tok.Encode("A dog sat."), back.Encode("A dog sat."));
    }
}

public class ReaderTests
{
    [Fact]
    public void LabeledTsvSplitsOnTheLastTabTrimsAndKeepsNelInsideSentences()
    {
        using var d = new TempDir();
        string p = d.File("s.txt", "A fine\tday  \t1\nBad\u0085movie   \t0\r\n\n");
        var rows = Readers.ReadLabeledTsv(p);
        Assert.Equal(2, rows.Count);
        Assert.Equal(("A fine\tday", "1"), (rows[0].Text, rows[0].Label));
        Assert.Equal("Bad\u0085movie", rows[1].Text);
    }

    [Theory]
    [InlineData("no tab here\n", "line 1", "no TAB")]
    [InlineData("ok\t1\n\t0\n", "line 2 field 'text'", "non-empty text")]
    [InlineData("ok\t\n", "line 1 field 'label'", "expected a label")]
    [InlineData("", "file", "at least one")]
    public void LabeledTsvErrorsNameFileLineAndWhatWasExpected(string content, string where, string what)
    {
        using var d = new TempDir();
        string p = d.File("bad.tsv", content);
        var e = Assert.Throws<RecurFormatException>(() => Readers.ReadLabeledTsv(p));
        Assert.Contains(p, e.Message);
        Assert.Contains(where, e.Message);
        Assert.Contains(what, e.Message);
    }

    [Fact]
    public void InvalidUtf8IsReportedWithLineAndBytes()
    {
        using var d = new TempDir();
        string p = d.Bytes("bad.txt", [.. "ok\t1\n"u8, 0x61, 0xFF, 0x62, (byte)'\t', (byte)'0']);
        var e = Assert.Throws<RecurFormatException>(() => Readers.ReadLabeledTsv(p));
        Assert.Contains("line 2", e.Message);
        Assert.Contains("FF", e.Message);
    }

    [Theory]
    [InlineData("utf-16LE")]
    [InlineData("utf-16BE")]
    [InlineData("utf-32LE")]
    [InlineData("utf-32BE")]
    public void Text_with_a_UTF16_or_UTF32_byte_order_mark_reads_like_UTF8(string encodingName)
    {
        using var d = new TempDir();
        const string content = "Très bon\tpos\nNul 🙁\tneg\n";
        var enc = Encoding.GetEncoding(encodingName);
        string p = d.Bytes("wide.tsv", [.. enc.GetPreamble(), .. enc.GetBytes(content)]);
        Assert.NotEmpty(enc.GetPreamble());
        var rows = Readers.ReadLabeledTsv(p);
        Assert.Equal(["Très bon", "Nul 🙁"], rows.Select(r => r.Text));
        Assert.Equal(["pos", "neg"], rows.Select(r => r.Label));
    }

    [Fact]
    public void Invalid_UTF16_is_reported_with_the_encoding_and_line_and_UTF16_without_a_mark_gets_a_hint()
    {
        using var d = new TempDir();
        // "ok\t1\n" then a lone high surrogate D800 followed by 'b', in UTF-16LE with its mark.
        byte[] bytes = [0xFF, 0xFE, .. Encoding.Unicode.GetBytes("ok\t1\n"), 0x00, 0xD8, (byte)'b', 0x00];
        var e = Assert.Throws<RecurFormatException>(() => Readers.ReadLabeledTsv(d.Bytes("lone.tsv", bytes)));
        Assert.Contains("UTF-16LE", e.Message);
        Assert.Contains("line 2", e.Message);
        var noMark = Assert.Throws<RecurFormatException>(() => Readers.ReadLabeledTsv(d.Bytes("nomark.tsv", [.. Encoding.Unicode.GetBytes("é\t1\n")])));
        Assert.Contains("UTF-16 without a byte-order mark", noMark.Message);
    }

    [Fact]
    public void GzipFilesAreReadTransparently()
    {
        using var d = new TempDir();
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write("x\t1\ny\t0\n"u8);
        string p = d.Bytes("s.tsv.gz", ms.ToArray());
        Assert.Equal(2, Readers.ReadLabeledTsv(p).Count);
        string broken = d.Bytes("broken.tsv.gz", ms.ToArray()[..12]);
        Assert.Throws<RecurFormatException>(() => Readers.ReadLabeledTsv(broken));
    }

    private static byte[] Gzip(byte[] data, CompressionLevel level = CompressionLevel.Optimal)
    {
        var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, level, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    /// <summary>1,000 rows, as in the report of a truncated .gz that trained on 844 of them with exit 0.</summary>
    private static byte[] ThousandRows()
    {
        var rng = new Rng(5);
        var sb = new StringBuilder();
        for (int i = 0; i < 1000; i++) sb.Append($"row {i} {rng.NextFloat():R} words {rng.NextFloat():R}\t{i % 2}\n");
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    [Fact]
    public void A_gzip_file_cut_anywhere_is_an_error_naming_the_file_never_fewer_rows()
    {
        using var d = new TempDir();
        byte[] gz = Gzip(ThousandRows());
        Assert.Equal(1000, Readers.ReadLabeledTsv(d.Bytes("whole.tsv.gz", gz)).Count);
        // Cut points across the stream: inside the header, the deflate data, and the 8-byte trailer.
        foreach (int cut in new[] { 5, 11, gz.Length / 3, gz.Length * 84 / 100, gz.Length - 9, gz.Length - 8, gz.Length - 3, gz.Length - 1 })
        {
            string p = d.Bytes($"cut{cut}.tsv.gz", gz[..cut]);
            var e = Assert.Throws<RecurFormatException>(() => Readers.ReadLabeledTsv(p));
            Assert.Contains($"cut{cut}.tsv.gz", e.Message);
            Assert.Contains("gzip", e.Message);
        }
    }

    [Fact]
    public void A_gzip_file_with_a_flipped_byte_in_its_data_or_trailer_is_an_error()
    {
        using var d = new TempDir();
        byte[] gz = Gzip(ThousandRows(), CompressionLevel.NoCompression);  // stored blocks: a flip changes data, not structure
        foreach (int at in new[] { gz.Length / 2, gz.Length - 6, gz.Length - 2 })
        {
            var bad = (byte[])gz.Clone();
            bad[at] ^= 0x20;
            var e = Assert.Throws<RecurFormatException>(() => Readers.ReadLabeledTsv(d.Bytes($"flip{at}.tsv.gz", bad)));
            Assert.Contains($"flip{at}.tsv.gz", e.Message);
            Assert.Contains("gzip", e.Message);
        }
    }

    [Fact]
    public void Concatenated_gzip_members_read_as_one_file()
    {
        using var d = new TempDir();
        byte[] two = [.. Gzip("a\t1\nb\t0\n"u8.ToArray()), .. Gzip("c\t1\n"u8.ToArray())];
        Assert.Equal(["a", "b", "c"], Readers.ReadLabeledTsv(d.Bytes("two.tsv.gz", two)).Select(r => r.Text));
        Assert.Equal("a\t1\nb\t0\nc\t1\n", DataFiles.ReadAllText(d.Bytes("two.txt.gz", two)));
    }

    [Fact]
    public void FileSizeLimitIsEnforced()
    {
        using var d = new TempDir();
        string p = d.File("big.txt", new string('a', 1000) + "\t1\n");
        var e = Assert.Throws<RecurFormatException>(() => Readers.ReadLabeledTsv(p, new ReadLimits(MaxFileBytes: 100)));
        Assert.Contains("MaxFileBytes", e.Message);
    }

    [Fact]
    public void ConllReadsSentencesSkipsDocstartAndTakesTheLastColumnAsTag()
    {
        using var d = new TempDir();
        string p = d.File("t.conll", "-DOCSTART- O\n\nthe DT B-NP\ndog NN I-NP\n\nruns VBZ B-VP\n");
        var s = Readers.ReadConll(p);
        Assert.Equal(2, s.Count);
        Assert.Equal(["the", "dog"], s[0].Tokens);
        Assert.Equal(["B-NP", "I-NP"], s[0].Tags);
        var bad = d.File("bad.conll", "the DT\nlonely\n");
        var e = Assert.Throws<RecurFormatException>(() => Readers.ReadConll(bad));
        Assert.Contains("line 2", e.Message);
    }

    [Fact]
    public void TimeSeriesCsvReadsQuotedColumnsMissingValuesAndRejectsText()
    {
        using var d = new TempDir();
        string p = d.File("s.csv", "\"Month\",\"Passengers\"\r\n\"1949-01\",112\r\n\"1949-02\",\r\n\"1949-03\",132");
        var cols = Readers.ReadTimeSeriesCsv(p, ["passengers"]);
        Assert.Equal(3, cols[0].Length);
        Assert.Equal(112f, cols[0][0]);
        Assert.True(float.IsNaN(cols[0][1]));
        var e = Assert.Throws<RecurFormatException>(() => Readers.ReadTimeSeriesCsv(p, ["Riders"]));
        Assert.Contains("'Riders'", e.Message);
        string bad = d.File("bad.csv", "a,b\n1,2\n3,x\n");
        var e2 = Assert.Throws<RecurFormatException>(() => Readers.ReadTimeSeriesCsv(bad, ["b"]));
        Assert.Contains("line 3 column 'b'", e2.Message);
        string inf = d.File("inf.csv", "a\nInfinity\n");
        Assert.Throws<RecurFormatException>(() => Readers.ReadTimeSeriesCsv(inf, ["a"]));
    }
}

public class BatchingTests
{
    [Fact]
    public void BatchesCoverEveryIndexOnceAreSeededAndBucketingReducesPadding()
    {
        var rng = new Rng(1);
        var lengths = Enumerable.Range(0, 1000).Select(_ => 1 + rng.NextInt(60)).ToArray();
        var a = Batching.Batches(lengths, 16, new Rng(7));
        var b = Batching.Batches(lengths, 16, new Rng(7));
        Assert.Equal(a.SelectMany(x => x), b.SelectMany(x => x));
        Assert.Equal(Enumerable.Range(0, 1000), a.SelectMany(x => x).Order());
        long Padding(List<int[]> bs) => bs.Sum(x => (long)x.Length * x.Max(i => lengths[i]) - x.Sum(i => lengths[i]));
        Assert.True(Padding(a) * 4 < Padding(Batching.Batches(lengths, 16, new Rng(7), bucket: false)), "bucketing should cut padding several-fold");
        Assert.NotEqual(a.SelectMany(x => x), Batching.Batches(lengths, 16, new Rng(8)).SelectMany(x => x));
    }

    [Fact]
    public void StratifiedSplitKeepsClassProportionsAndNeverHoldsOutARareClassEntirely()
    {
        // 10 of a, 1 of b, 3 of c, interleaved; 80% for the first (training) part.
        string[] classes = [.. Enumerable.Repeat("a", 10), "b", "c", "c", "c"];
        for (ulong seed = 1; seed <= 20; seed++)
        {
            var (first, second) = Batching.StratifiedSplit(classes, 0.8, new Rng(seed));
            Assert.Equal(Enumerable.Range(0, classes.Length), first.Concat(second).Order());
            Assert.Equal(first.Order(), first);
            // a: round(10 * 0.2) = 2 held out; c: round(3 * 0.2) = 1; b: round(0.2) = 0, and b is alone anyway.
            Assert.Equal(2, second.Count(i => classes[i] == "a"));
            Assert.Equal(1, second.Count(i => classes[i] == "c"));
            Assert.Contains(10, first);
        }
        // A class of two with half held out keeps one in the first part, not zero.
        var (f2, s2) = Batching.StratifiedSplit(["x", "x", "y", "y"], 0.0, new Rng(3));
        Assert.Equal(2, f2.Length);
        Assert.Equal(["x", "y"], f2.Select(i => new[] { "x", "x", "y", "y" }[i]).Order());
        Assert.Equal(2, s2.Length);
        // Seeded: the same seed gives the same split, another seed (usually) another one.
        Assert.Equal(Batching.StratifiedSplit(classes, 0.8, new Rng(7)).First, Batching.StratifiedSplit(classes, 0.8, new Rng(7)).First);
    }

    [Fact]
    public void PadTokensPadsToTheLongestSelectedSequence()
    {
        List<int[]> seqs = [[5, 6, 7], [8], []];
        var (ids, lens, t) = Batching.PadTokens(seqs, [2, 0, 1], 0);
        Assert.Equal(3, t);
        Assert.Equal([0, 3, 1], lens);
        Assert.Equal([0, 0, 0, 5, 6, 7, 8, 0, 0], ids);
    }
}
