using System.IO.Compression;
using System.Text;
using Recur.Data;

namespace Recur.Tests.Data;

/// <summary>Pretrained word vectors in the GloVe and word2vec/fastText text formats, on files the tests write.</summary>
public sealed class WordVectorsTests : IDisposable
{
    private readonly TempDir dir = new();

    public void Dispose() => dir.Dispose();

    // <pad>, <unk>, then the words; the vocabulary keeps case, as the tagger's does.
    private static readonly Vocabulary Vocab = new(["<pad>", "<unk>", "the", "good", "Paris", "apple", "missing"]);

    private const string Glove = "the 0.5 -1 2\ngood 1e-1 0.25 -0.75\nunrelated 9 9 9\n";

    [Fact]
    public void GloveRowsGoToTheirTokensAndTheRestStayZero()
    {
        var v = WordVectors.Read(dir.File("g.txt", Glove), Vocab);
        Assert.Equal(WordVectorFormat.Glove, v.Format);
        Assert.Equal(3, v.Dimension);
        Assert.Equal(3, v.FileWords);
        Assert.Equal(new[] { false, false, true, true, false, false, false }, v.Found);
        Assert.Equal(new[] { 0.5f, -1f, 2f }, v.Values.AsSpan(2 * 3, 3).ToArray());
        Assert.Equal(new[] { 0.1f, 0.25f, -0.75f }, v.Values.AsSpan(3 * 3, 3).ToArray());
        Assert.All(v.Values.AsSpan(4 * 3).ToArray(), x => Assert.Equal(0f, x));
        Assert.Equal(5, v.Words);
        Assert.Equal(2, v.WordsFound);
        Assert.Equal(0, v.WordsFoundByLowercase);
    }

    [Fact]
    public void Word2VecHeaderTrailingSpacesAndGzipReadTheSame()
    {
        // fastText writes "count dim" first and a space after every value.
        string vec = "3 3\nthe 0.5 -1 2 \ngood 1e-1 0.25 -0.75 \nunrelated 9 9 9 \n";
        var plain = WordVectors.Read(dir.File("f.vec", vec), Vocab);
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(Encoding.UTF8.GetBytes(vec));
        var zipped = WordVectors.Read(dir.Bytes("f.vec.gz", ms.ToArray()), Vocab);
        var glove = WordVectors.Read(dir.File("g.txt", Glove), Vocab);
        foreach (var v in new[] { plain, zipped })
        {
            Assert.Equal(WordVectorFormat.Word2Vec, v.Format);
            Assert.Equal(glove.Values, v.Values);
            Assert.Equal(glove.Found, v.Found);
        }
    }

    [Fact]
    public void ATruncatedGzipFileIsAnError()
    {
        var text = new StringBuilder();
        for (int i = 0; i < 2000; i++) text.Append($"w{i} {i} 1 2\n");
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Optimal, leaveOpen: true)) gz.Write(Encoding.UTF8.GetBytes(text.ToString()));
        var bytes = ms.ToArray();
        string path = dir.Bytes("cut.txt.gz", bytes[..(bytes.Length - 12)]);
        var e = Assert.Throws<RecurFormatException>(() => WordVectors.Read(path, Vocab));
        Assert.Contains("cut.txt.gz", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void TheLowerCaseFormIsAFallbackThatTheExactFormOverrides()
    {
        // "paris" only in lower case; "apple" first as "Apple", later exactly: the exact line wins.
        string path = dir.File("c.txt", "paris 1 1 1\nApple 2 2 2\napple 3 3 3\nTHE 4 4 4\nthe 5 5 5\n");
        var v = WordVectors.Read(path, Vocab);
        Assert.True(v.Found[4] && v.MatchedByLowercase[4]);
        Assert.Equal(new[] { 1f, 1f, 1f }, v.Values.AsSpan(4 * 3, 3).ToArray());
        Assert.True(v.Found[5] && !v.MatchedByLowercase[5]);
        Assert.Equal(new[] { 3f, 3f, 3f }, v.Values.AsSpan(5 * 3, 3).ToArray());
        Assert.Equal(new[] { 5f, 5f, 5f }, v.Values.AsSpan(2 * 3, 3).ToArray());
        Assert.Equal(1, v.WordsFoundByLowercase);
        Assert.Equal(3, v.WordsFound);
    }

    [Fact]
    public void AWordWithSpacesIsKeptOutAndTheFirstLineOfAWordWins()
    {
        // glove.840B has a few words that contain spaces; word2vec files may repeat a word.
        string path = dir.File("s.txt", "the 1 2 3\n. . . 4 5 6\nthe 7 8 9\n");
        var v = WordVectors.Read(path, Vocab);
        Assert.Equal(3, v.FileWords);
        Assert.Equal(new[] { 1f, 2f, 3f }, v.Values.AsSpan(2 * 3, 3).ToArray());
    }

    [Fact]
    public void TokenCoverageCountsTokensWithAVectorAndIgnoresPadding()
    {
        var v = WordVectors.Read(dir.File("g.txt", Glove), Vocab);
        // the good <unk> Paris | good good <pad>
        var (covered, total) = v.TokenCoverage([[2, 3, 1, 4], [3, 3, 0]]);
        Assert.Equal(4, covered);
        Assert.Equal(6, total);
    }

    [Theory]
    [InlineData("the 1 2 3\ngood 1 2\n", "line 2", "expected a word and 3 numbers (the dimension of line 1), found 2")]
    [InlineData("the 1 2 3\ngood 1 2 3 4\n", "line 2", "expected a word and 3 numbers")]
    [InlineData("the 1 2 3\ngood 1 x 3\n", "line 2 field 3 (value 2 of 'good')", "expected a finite number, found 'x'")]
    [InlineData("the 1 2 3\ngood 1 NaN 3\n", "line 2 field 3 (value 2 of 'good')", "expected a finite number, found 'NaN'")]
    [InlineData("3 3\nthe 1 2 3\ngood 1 2 3\n", "line 1 (header 'count dim')", "expected 3 vectors as the header says, found 2")]
    [InlineData("2 3\nthe 1 2 3\ngood 1 2\n", "line 3", "expected a word and 3 numbers (the dimension of the header), found 2")]
    [InlineData("the 1 2 3\n\ngood 1 2 3\n", "line 2", "expected a word and its vector, found an empty line")]
    [InlineData("", "line 1", "expected at least one word vector, found none")]
    [InlineData("the\n", "line 1", "expected a word followed by its vector")]
    public void MalformedFilesNameTheFileLineAndWhatWasExpected(string content, string location, string problem)
    {
        string path = dir.File("bad.txt", content);
        var e = Assert.Throws<RecurFormatException>(() => WordVectors.Read(path, Vocab));
        Assert.Equal(path, e.Source);
        Assert.Equal(location, e.Location);
        Assert.Contains(problem, e.Problem);
    }

    [Fact]
    public void InvalidUtf8IsReportedOnItsLine()
    {
        var bytes = Encoding.UTF8.GetBytes("the 1 2 3\ngood 1 2 3\n").Concat(new byte[] { 0xC3, 0x28, (byte)' ', (byte)'1', (byte)' ', (byte)'2', (byte)' ', (byte)'3', (byte)'\n' }).ToArray();
        string path = dir.Bytes("bin.vec", bytes);
        var e = Assert.Throws<RecurFormatException>(() => WordVectors.Read(path, Vocab));
        Assert.StartsWith("line 3", e.Location);
        Assert.Contains("expected UTF-8 text", e.Problem);
        Assert.Contains("C3", e.Problem);
    }

    [Fact]
    public void AMissingFileIsAnError() =>
        Assert.Throws<FileNotFoundException>(() => WordVectors.Read(Path.Combine(dir.Path, "none.txt"), Vocab));
}
