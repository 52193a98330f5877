using System.Globalization;
using System.Text;
using System.Text.Json;
using Recur.IO;
using Recur.Models;
using Recur.Tensors;

namespace Recur.Tests.Cli;

/// <summary>
/// `recur train` with pretrained word vectors (--word-vectors, --freeze-embeddings) and the small-data regularisers
/// (--word-dropout, --embedding-dropout, --weight-decay) on data and vector files the test writes.
/// </summary>
public sealed class WordVectorsCliTests : IDisposable
{
    private readonly Recur.Tests.Data.TempDir temp = new();
    private string dir => temp.Path;

    public void Dispose() => temp.Dispose();

    private string Write(string name, string text) => temp.File(name, text);

    private static readonly string[] Good = ["great", "good", "lovely"], Bad = ["awful", "bad", "poor"], Filler = ["the", "food", "was", "really", "service"];

    /// <summary>120 sentences "filler filler adjective filler TAB label", every word of the three lists used.</summary>
    private (string Path, List<string[]> Sentences) Sentences()
    {
        var rng = new Rng(11);
        int R(int n) => (int)(rng.NextUInt64() % (ulong)n);
        var sb = new StringBuilder("text\tlabel\n");
        var sentences = new List<string[]>();
        for (int i = 0; i < 120; i++)
        {
            bool pos = i % 2 == 0;
            string[] words = [Filler[R(5)], Filler[R(5)], (pos ? Good : Bad)[R(3)], Filler[R(5)]];
            sentences.Add(words);
            sb.Append(string.Join(' ', words)).Append('\t').Append(pos ? "pos" : "neg").Append('\n');
        }
        return (Write("cls.tsv", sb.ToString()), sentences);
    }

    // "Food" is only in upper case: the lower-cased vocabulary finds it through the fallback.
    private const string Vectors = "the 0.5 -0.25 1 2\ngreat 1.5 2.5 -3 0.125\nunrelated 9 9 9 9\ngood -1 -2 -3 -4\nFood 0.75 0.5 0.25 0\n";

    private async Task<(string Out, JsonElement Metrics)> Train(string name, params string[] extra)
    {
        var (data, _) = Sentences();
        string output = Path.Combine(dir, name);
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--task", "classify", "--data", data, "--text-column", "text", "--label-column", "label",
            "--valid-fraction", "0", "--test", data, "--epochs", "2", "--hidden", "8", "--seed", "3", "--output", output, .. extra]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        return (stdout, JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))).RootElement.Clone());
    }

    private float[] EmbeddingRow(string run, string word)
    {
        var bundle = ModelFile.Load(Path.Combine(dir, run, "model.recur"));
        var model = (SequenceClassifier)bundle.Model;
        int id = bundle.Tokenizer!.Vocabulary.Id(word);
        Assert.NotEqual(bundle.Tokenizer.Vocabulary.UnkId, id);
        int width = model.Encoder.Config.EmbeddingDim;
        return model.Encoder.Embedding!.Weight.Value.Span.Slice(id * width, width).ToArray();
    }

    [Fact]
    public async Task VectorsAreLoadedTheirCoverageReportedAndFrozenOnRequest()
    {
        string vectors = Write("v.txt", Vectors);
        var (stdout, metrics) = await Train("frozen", "--word-vectors", vectors, "--embedding", "4", "--freeze-embeddings", "true");

        // Counted here from the sentences written: 11 distinct words; the, great, good and food (via Food) have vectors.
        var (_, sentences) = Sentences();
        var withVector = new HashSet<string> { "the", "great", "good", "food" };
        long tokens = sentences.Sum(s => s.Length), covered = sentences.Sum(s => s.Count(withVector.Contains));
        int words = sentences.SelectMany(s => s).Distinct().Count();
        Assert.Equal(11, words);
        Assert.Equal(4, metrics.GetProperty("word_vectors_words_found").GetDouble());
        Assert.Equal(4.0 / words, metrics.GetProperty("word_vectors_vocabulary_coverage").GetDouble(), 1e-12);
        Assert.Equal(1, metrics.GetProperty("word_vectors_lowercase_matches").GetDouble());
        Assert.Equal((double)covered / tokens, metrics.GetProperty("word_vectors_token_coverage").GetDouble(), 1e-12);
        Assert.Contains($"4 of {words} vocabulary words found", stdout);
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"{covered} of {tokens} training tokens covered"), stdout);
        Assert.Contains("frozen", stdout);
        Assert.Contains("word_vectors_token_coverage", File.ReadAllText(Path.Combine(dir, "frozen", "report.html")));

        // Frozen: after training, the rows are still the file's vectors.
        Assert.Equal(new[] { 1.5f, 2.5f, -3f, 0.125f }, EmbeddingRow("frozen", "great"));
        Assert.Equal(new[] { 0.75f, 0.5f, 0.25f, 0f }, EmbeddingRow("frozen", "food"));

        // Fine-tuned (the default): they moved.
        var (tuned, _) = await Train("tuned", "--word-vectors", vectors, "--embedding", "4");
        Assert.Contains("fine-tuned", tuned);
        Assert.NotEqual(new[] { 1.5f, 2.5f, -3f, 0.125f }, EmbeddingRow("tuned", "great"));
    }

    [Fact]
    public async Task VectorsThatCannotBeUsedAreErrorsNamingTheOption()
    {
        var (data, _) = Sentences();
        string vectors = Write("v.txt", Vectors), ragged = Write("ragged.vec", "2 4\nthe 1 2 3 4\ngreat 1 2 3\n");
        string[] common = ["train", "--task", "classify", "--data", data, "--text-column", "text", "--label-column", "label", "--epochs", "1"];
        foreach (var (args, expected) in new (string[], string)[]
        {
            (["--word-vectors", vectors], "--word-vectors: " + vectors + " holds 4-dimensional vectors, but --embedding is 64: give --embedding 4"),
            (["--word-vectors", vectors, "--embedding", "4", "--tokenizer", "char"], "--word-vectors: expected word tokens (--tokenizer word), found --tokenizer char"),
            (["--freeze-embeddings", "true"], "--freeze-embeddings: expected --word-vectors FILE to freeze, found none"),
            (["--word-vectors", ragged, "--embedding", "4"], ragged + ": line 3: expected a word and 4 numbers (the dimension of the header), found 3"),
            (["--word-dropout", "1.5"], "--word-dropout: expected a number in [0, 0.99], found '1.5'"),
        })
        {
            string output = Path.Combine(dir, "bad");
            var (code, stdout, stderr) = await CliRunner.Run([.. common, "--output", output, .. args]);
            Assert.True(code != 0, $"expected a failure for {string.Join(' ', args)}\n{stdout}");
            Assert.Contains(expected, stderr);
            Assert.False(File.Exists(Path.Combine(output, "model.recur")));
        }
    }

    [Fact]
    public async Task TaggingTakesVectorsThroughTheLowerCaseFallback()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 40; i++) sb.Append(i % 2 == 0 ? "The DET\ndog NOUN\nruns VERB\n\n" : "A DET\ncat NOUN\nsleeps VERB\n\n");
        string data = Write("tag.conll", sb.ToString()), vectors = Write("t.txt", "the 1 2\ndog 3 4\nzebra 5 6\n"), output = Path.Combine(dir, "tag");
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--task", "tag", "--data", data, "--valid-fraction", "0", "--epochs", "1", "--hidden", "8",
            "--embedding", "2", "--word-vectors", vectors, "--output", output]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "metrics.json"))).RootElement;
        // The tagger keeps case: "The" takes the vector of "the" by the fallback, "dog" its own.
        Assert.Equal(2, metrics.GetProperty("word_vectors_words_found").GetDouble());
        Assert.Equal(1, metrics.GetProperty("word_vectors_lowercase_matches").GetDouble());
        Assert.Equal(2.0 / 6, metrics.GetProperty("word_vectors_vocabulary_coverage").GetDouble(), 1e-12);
    }

    [Fact]
    public async Task EachRegulariserChangesTrainingAndIsOffByDefault()
    {
        byte[] Model(string run) => File.ReadAllBytes(Path.Combine(dir, run, "model.recur"));
        var (_, plain) = await Train("plain");
        var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "plain", "config.json"))).RootElement;
        Assert.Equal("0", config.GetProperty("word-dropout").GetString());
        Assert.Equal("0", config.GetProperty("embedding-dropout").GetString());
        Assert.Equal("0", config.GetProperty("weight-decay").GetString());
        Assert.False(plain.TryGetProperty("word_vectors_words_found", out _));

        // Stated as 0, they change nothing: the same model file, byte for byte.
        await Train("zeros", "--word-dropout", "0", "--embedding-dropout", "0", "--weight-decay", "0");
        Assert.Equal(Model("plain"), Model("zeros"));

        foreach (var (run, option) in new[] { ("wd", "--word-dropout"), ("ed", "--embedding-dropout"), ("l2", "--weight-decay") })
        {
            var (_, m) = await Train(run, option, "0.3");
            Assert.NotEqual(plain.GetProperty("test_loss").GetDouble(), m.GetProperty("test_loss").GetDouble());
            Assert.NotEqual(EmbeddingRow("plain", "great"), EmbeddingRow(run, "great"));
        }
    }
}
