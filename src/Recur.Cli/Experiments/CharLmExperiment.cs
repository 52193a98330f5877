using System.Diagnostics;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// Character language model on tiny-shakespeare: first 90% to train, last 10% to validate, a stacked LSTM trained
/// statefully with truncated BPTT; validation loss in nats per character and samples at two temperatures.
/// </summary>
internal static class CharLmExperiment
{
    public sealed record Options(string DataDir, ulong Seed = 42, int Epochs = 10, int Layers = 2, int Hidden = 256, int Embedding = 64,
        float Dropout = 0.2f, int Batch = 32, int Steps = 100, float LearningRate = 2e-3f, double? Minutes = null, int? MaxChars = null, string? Output = null);

    public sealed record Result(double ValidationNats, double ValidationBitsPerChar, double Perplexity, string SampleCool, string SampleWarm,
        TimeSpan Time, long Steps, int Epochs, long TrainChars, long ValidationChars, int Vocabulary);

    public static Result Run(Options o, bool verbose = true)
    {
        string text = DataFiles.ReadAllText(Path.Combine(o.DataDir, "input.txt"));
        if (o.MaxChars is { } max && text.Length > max) text = text[..max];
        int split = (int)(text.Length * 0.9);
        var tokenizer = CharTokenizer.Build(text[..split]);
        var trainIds = tokenizer.Encode(text[..split]);
        var validIds = tokenizer.Encode(text[split..]);
        var train = new TbpttStream(trainIds, o.Batch, o.Steps);
        var valid = TbpttStream.ForEvaluation(validIds, o.Batch, o.Steps);
        if (verbose)
            Console.WriteLine($"char-lm: {text.Length} characters, train {trainIds.Length} / validation {validIds.Length}, vocabulary {tokenizer.Vocabulary.Count}; " +
                              $"{o.Layers}-layer LSTM {o.Hidden}, TBPTT {o.Batch} streams x {o.Steps} steps ({train.Chunks} chunks per epoch)");

        var rng = new Rng(o.Seed);
        var model = new LanguageModel(new LanguageModelConfig
        {
            Encoder = new EncoderConfig
            {
                VocabularySize = tokenizer.Vocabulary.Count, EmbeddingDim = o.Embedding, Cell = RecurrentMode.Lstm,
                HiddenSize = o.Hidden, Layers = o.Layers, Dropout = o.Dropout,
            },
        }, rng);
        long totalSteps = (long)o.Epochs * train.Chunks;
        var schedule = new CosineWarmupSchedule(o.LearningRate, warmupSteps: Math.Min(200, totalSteps / 10), totalSteps, o.LearningRate / 20);
        var trainer = new Trainer<StreamChunk>(new Adam(model.Parameters(), o.LearningRate),
            new TrainerOptions { Epochs = o.Epochs, ClipNorm = 5f, LogEvery = 50 }, schedule);
        if (verbose) ProgressPrinter.Attach(trainer);
        using var cts = new CancellationTokenSource();
        if (o.Minutes is { } m) cts.CancelAfter(TimeSpan.FromMinutes(m));
        var clock = Stopwatch.StartNew();
        var result = trainer.Fit(model, _ => train.Enumerate(), () =>
        {
            double nats = model.Evaluate(valid);
            return new Evaluation("loss", nats, false, new Dictionary<string, double> { ["bits_per_char"] = Metrics.BitsPerCharacter(nats) });
        }, train.Chunks, cts.Token);
        var time = clock.Elapsed;
        double validNats = model.Evaluate(valid);

        var sampleRng = new Rng(o.Seed + 7);
        var seed = tokenizer.Encode("ROMEO:\n");
        string cool = "ROMEO:\n" + tokenizer.Decode(model.Generate(seed, 400, 0.5f, 0, 1f, sampleRng));
        string warm = "ROMEO:\n" + tokenizer.Decode(model.Generate(seed, 400, 1.0f, 0, 0.95f, sampleRng));
        var r = new Result(validNats, Metrics.BitsPerCharacter(validNats), Metrics.Perplexity(validNats), cool, warm, time, result.Steps,
            result.History.Count, train.Tokens, valid.Tokens, tokenizer.Vocabulary.Count);
        if (o.Output is not null)
        {
            string path = Path.Combine(o.Output, "char-lm.safetensors");
            IO.ModelFile.Save(path, new IO.ModelBundle
            {
                Model = model, Tokenizer = tokenizer,
                Metadata = new Dictionary<string, string> { ["task"] = "lm", ["validation_nats_per_char"] = IO.ModelFile.Format(validNats), ["steps"] = result.Steps.ToString(System.Globalization.CultureInfo.InvariantCulture) },
            });
            if (verbose) Console.WriteLine($"saved {path}");
        }
        if (verbose)
        {
            Console.WriteLine($"validation: {validNats:F4} nats/char ({r.ValidationBitsPerChar:F3} bits/char, perplexity {r.Perplexity:F2}) after {result.Steps} steps, " +
                              $"{result.History.Count} epochs, {ProgressPrinter.Format(time)} ({result.Reason})");
            Console.WriteLine("--- sample, temperature 0.5 ---\n" + cool);
            Console.WriteLine("--- sample, temperature 1.0, top-p 0.95 ---\n" + warm);
        }
        return r;
    }
}
