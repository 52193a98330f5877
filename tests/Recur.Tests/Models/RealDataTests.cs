using Recur.Scoring;
using Recur.Data;
using Recur.Models;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;
using Recur.Tests.Support;
using Recur.Training;

namespace Recur.Tests.Models;

/// <summary>
/// Short versions of the documented experiments (docs/results.md) on the shared datasets: each must learn something
/// real in seconds. Skipped, with a message, when ../shared/data is absent (as on a user's clone).
/// </summary>
public class RealDataTests
{
    private static string Data(string name) =>
        Repo.DataDir(name) ?? throw SkipException(name);

    private static Exception SkipException(string name)
    {
        Assert.Skip($"../shared/data/{name} is absent (expected at {Path.Combine(Repo.Shared, "data", name)}); this real-data check runs where the shared data is");
        return new InvalidOperationException();
    }

    [Fact]
    public void SentimentClassifierLearnsFromUciSentences()
    {
        string dir = Data("uci-sentiment");
        var rows = Readers.ReadLabeledTsv(Path.Combine(dir, "yelp_labelled.txt"));
        Assert.Equal(1000, rows.Count);
        var (train, test) = Batching.Split(rows.Count, 0.8, new Rng(42));
        var tok = WordTokenizer.Build(train.Select(i => rows[i].Text));
        var ids = rows.Select(r => tok.Encode(r.Text)).ToList();
        var labels = rows.Select(r => r.Label == "1" ? 1 : 0).ToArray();
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = tok.Vocabulary.Count, EmbeddingDim = 32, HiddenSize = 32, Bidirectional = true, Dropout = 0.2f },
            Pooling = Pooling.Max,
            Classes = 2,
        }, new Rng(1));
        var rng = new Rng(2);
        var r = new Trainer<SequenceBatch>(new Adam(model.Parameters(), 3e-3f), new TrainerOptions { Epochs = 8 })
            .Fit(model, _ => Batching.Batches(train.Select(i => ids[i].Length).ToArray(), 32, rng)
                .Select(b => { var idx = b.Select(k => train[k]).ToArray(); return SequenceBatch.FromTokens(ids, idx, idx.Select(i => labels[i]).ToArray()); }));
        Assert.True(r.History[^1].TrainLoss < 0.7 * r.History[0].TrainLoss, $"train loss {r.History[0].TrainLoss} -> {r.History[^1].TrainLoss}");
        model.Training = false;
        var p = model.Predict(SequenceBatch.FromTokens(ids, test));
        var pred = Enumerable.Range(0, test.Length).Select(i => p[i, 1] > p[i, 0] ? 1 : 0).ToArray();
        Assert.True(Metrics.Accuracy(pred, test.Select(i => labels[i]).ToArray()) > 0.65, "test accuracy should be well above chance");
    }

    [Fact]
    public void CharacterLanguageModelLearnsShakespeare()
    {
        string text = DataFiles.ReadAllText(Path.Combine(Data("tiny-shakespeare"), "input.txt"));
        Assert.StartsWith("First Citizen:", text);
        text = text[..60_000];
        var tok = CharTokenizer.Build(text);
        var stream = new TbpttStream(tok.Encode(text[..54_000]), 16, 50);
        var valid = new TbpttStream(tok.Encode(text[54_000..]), 4, 50);
        var model = new LanguageModel(new LanguageModelConfig
        {
            Encoder = new EncoderConfig { VocabularySize = tok.Vocabulary.Count, EmbeddingDim = 16, HiddenSize = 64 },
        }, new Rng(3));
        double before = model.Evaluate(valid);
        new Trainer<StreamChunk>(new Adam(model.Parameters(), 1e-2f), new TrainerOptions { Epochs = 2 }).Fit(model, _ => stream.Enumerate());
        double after = model.Evaluate(valid);
        Assert.True(before > 3.5, $"an untrained model is near uniform (ln {tok.Vocabulary.Count} = {Math.Log(tok.Vocabulary.Count):F2}), got {before}");
        Assert.True(after < 2.6, $"validation loss should fall well below uniform: {before:F3} -> {after:F3} nats/char");
        string sample = tok.Decode(model.Generate(tok.Encode("KING:"), 80, 0.7f, 0, 1f, new Rng(4)));
        Assert.Contains(' ', sample);
    }

    [Fact]
    public void ForecasterBeatsNaiveOnAirlinePassengers()
    {
        var cols = Readers.ReadTimeSeriesCsv(Path.Combine(Data("timeseries"), "airline-passengers.csv"), ["Passengers"]);
        Assert.Equal(144, cols[0].Length);
        int trainEnd = 96;
        var series = Forecaster.Transform(cols, true);
        var model = new Forecaster(new ForecasterConfig { Features = 1, Window = 12, HiddenSize = 32, Difference = true }, Standardizer.FitColumns(series, trainEnd), new Rng(5));
        var origins = model.TrainingOrigins(trainEnd);
        var rng = new Rng(6);
        new Trainer<ForecastBatch>(new Adam(model.Parameters(), 5e-3f), new TrainerOptions { Epochs = 120, ClipNorm = 1f })
            .Fit(model, _ => Batching.Batches(new int[origins.Length], 16, rng, bucket: false).Select(b => model.Windows(series, b.Select(i => origins[i]).ToArray())));
        var report = model.Evaluate(cols, trainEnd, season: 12);
        Assert.Equal(48, report.Origins.Length);
        Assert.True(report.ModelRmse < report.NaiveRmse, $"LSTM RMSE {report.ModelRmse:F2} should beat the naive {report.NaiveRmse:F2}");
    }

    [Fact]
    public void Co2GapsAreInterpolatedAndNeverScored()
    {
        var cols = Readers.ReadTimeSeriesCsv(Path.Combine(Data("timeseries"), "co2.csv"), ["co2"]);
        int missing = cols[0].Count(float.IsNaN);
        Assert.Equal(59, missing);
        Assert.Equal(59, Forecaster.Interpolate(cols[0]));
        Assert.All(cols[0], v => Assert.InRange(v, 300f, 400f));
    }

    [Fact]
    public void TaggerLearnsTheGeneratedGrammarIncludingAmbiguousWords()
    {
        var corpus = Synthetic.TaggingCorpus(600, new Rng(7));
        var words = WordTokenizer.Build(corpus.Take(500).Select(s => string.Join(' ', s.Tokens)), lowercase: false);
        var tagIndex = Synthetic.Tags.Select((t, i) => (t, i)).ToDictionary(p => p.t, p => p.i);
        var x = corpus.Select(s => s.Tokens.Select(words.Vocabulary.Id).ToArray()).ToList();
        var y = corpus.Select(s => s.Tags.Select(t => tagIndex[t]).ToArray()).ToList();
        var model = new SequenceTagger(new TaggerConfig
        {
            Encoder = new EncoderConfig { VocabularySize = words.Vocabulary.Count, EmbeddingDim = 16, HiddenSize = 32, Bidirectional = true },
            Tags = tagIndex.Count,
        }, new Rng(8));
        var rng = new Rng(9);
        SequenceBatch Batch(int[] idx)
        {
            var b = SequenceBatch.FromTokens(x, idx);
            return new SequenceBatch { Tokens = b.Tokens, Lengths = b.Lengths, Steps = b.Steps, Targets = SequenceTagger.PadTargets(y, idx, b.Steps) };
        }
        new Trainer<SequenceBatch>(new Adam(model.Parameters(), 1e-2f), new TrainerOptions { Epochs = 6 })
            .Fit(model, _ => Batching.Batches(x.Take(500).Select(s => s.Length).ToArray(), 25, rng).Select(Batch));
        model.Training = false;
        var test = Enumerable.Range(500, 100).ToArray();
        var pred = model.PredictTags(SequenceBatch.FromTokens(x, test));
        int ok = 0, n = 0;
        for (int k = 0; k < test.Length; k++)
            for (int t = 0; t < y[test[k]].Length; t++) { n++; if (pred[k][t] == y[test[k]][t]) ok++; }
        Assert.True(ok / (double)n > 0.95, $"token accuracy {ok / (double)n:P1}");
    }
}
