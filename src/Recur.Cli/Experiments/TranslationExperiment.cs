using System.Diagnostics;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Cli.Experiments;

/// <summary>
/// French to English translation on the Tatoeba pairs with the PyTorch tutorial's filter: an attention encoder-decoder,
/// corpus BLEU of greedy and beam-search decoding on a seeded 10% held-out set.
/// </summary>
internal static class TranslationExperiment
{
    public sealed record Options(string DataDir, ulong Seed = 42, int Epochs = 20, int Hidden = 128, int Embedding = 128,
        float Dropout = 0.2f, float ScheduledSampling = 0f, int Batch = 64, float LearningRate = 2e-3f, int Beam = 5, string? Output = null);

    public sealed record Result(int Pairs, int Train, int Test, int SourceVocabulary, int TargetVocabulary, double BleuGreedy, double BleuBeam,
        double ValidationLoss, TimeSpan TrainTime, TimeSpan DecodeTime, List<(string Source, string Reference, string Greedy, string Beam)> Examples);

    public static Result Run(Options o, bool verbose = true)
    {
        var raw = TranslationData.ReadTsv(Path.Combine(o.DataDir, "fra.txt.gz"));
        var pairs = new List<(string Fr, string En)>();
        foreach (var p in raw)
        {
            string en = TranslationData.Normalize(p.Source), fr = TranslationData.Normalize(p.Target);
            if (TranslationData.Keep(en, fr)) pairs.Add((fr, en));
        }
        var (train, test) = Batching.Split(pairs.Count, 0.9, new Rng(o.Seed));
        var srcTok = new WordTokenizer(Vocabulary.Build(train.SelectMany(i => pairs[i].Fr.Split(' '))), lowercase: false);
        var tgtTok = new WordTokenizer(Vocabulary.Build(train.SelectMany(i => pairs[i].En.Split(' ')), extraSpecials: [Vocabulary.Bos, Vocabulary.Eos]), lowercase: false);
        int bos = tgtTok.Vocabulary.Id(Vocabulary.Bos), eos = tgtTok.Vocabulary.Id(Vocabulary.Eos);
        var src = pairs.Select(p => p.Fr.Split(' ').Select(srcTok.Vocabulary.Id).ToArray()).ToList();
        var tgt = pairs.Select(p => p.En.Split(' ').Select(tgtTok.Vocabulary.Id).ToArray()).ToList();
        if (verbose)
            Console.WriteLine($"translation fra->eng: {raw.Count} pairs read, {pairs.Count} kept by the tutorial's filter; train {train.Length} / held out {test.Length} (seed {o.Seed}); " +
                              $"vocabularies {srcTok.Vocabulary.Count} French / {tgtTok.Vocabulary.Count} English words");

        var model = new Seq2Seq(new Seq2SeqConfig
        {
            Encoder = new EncoderConfig { VocabularySize = srcTok.Vocabulary.Count, EmbeddingDim = o.Embedding, HiddenSize = o.Hidden, Bidirectional = true, Dropout = o.Dropout },
            TargetVocabulary = tgtTok.Vocabulary.Count, BosId = bos, EosId = eos,
            DecoderEmbedding = o.Embedding, DecoderHidden = 2 * o.Hidden, Dropout = o.Dropout,
        }, new Rng(o.Seed + 1));
        // A slice of the training pairs validates (best model); the held-out 10% is only for the final BLEU.
        var valid = train[^(train.Length / 20)..];
        var fit = train[..^(train.Length / 20)];
        var batchRng = new Rng(o.Seed + 2);
        var trainer = new Trainer<TranslationBatch>(new Adam(model.Parameters(), o.LearningRate), new TrainerOptions { Epochs = o.Epochs, LogEvery = 50, ClipNorm = 5f });
        if (verbose) ProgressPrinter.Attach(trainer);
        var validBatches = valid.Chunk(256).Select(c => TranslationBatch.Create(src, tgt, c, bos, eos)).ToList();
        var clock = Stopwatch.StartNew();
        var result = trainer.Fit(model, epoch =>
        {
            // Scheduled sampling ratio rises linearly to its maximum over the epochs.
            model.ScheduledSamplingRatio = o.ScheduledSampling * (epoch - 1) / Math.Max(1, o.Epochs - 1);
            return Batching.Batches(fit.Select(i => src[i].Length).ToArray(), o.Batch, batchRng).Select(b => TranslationBatch.Create(src, tgt, b.Select(k => fit[k]).ToArray(), bos, eos));
        }, () =>
        {
            double total = 0, count = 0;
            foreach (var b in validBatches) { var l = model.Step(b, backward: false); total += l.Loss * l.Count; count += l.Count; }
            return new Evaluation("loss", total / count, false);
        });
        var trainTime = clock.Elapsed;

        clock.Restart();
        var greedy = new List<IReadOnlyList<string>>();
        var beam = new List<IReadOnlyList<string>>();
        var references = new List<IReadOnlyList<string>>();
        var examples = new List<(string, string, string, string)>();
        foreach (int i in test)
        {
            var g = model.Greedy(src[i], 20).Select(tgtTok.Vocabulary.Token).ToList();
            var bm = model.Beam(src[i], 20, o.Beam).Select(tgtTok.Vocabulary.Token).ToList();
            greedy.Add(g);
            beam.Add(bm);
            references.Add(pairs[i].En.Split(' '));
            if (examples.Count < 8) examples.Add((pairs[i].Fr, pairs[i].En, string.Join(' ', g), string.Join(' ', bm)));
        }
        var decodeTime = clock.Elapsed;
        double bleuGreedy = Bleu.Corpus(greedy, references), bleuBeam = Bleu.Corpus(beam, references);
        var r = new Result(pairs.Count, train.Length, test.Length, srcTok.Vocabulary.Count, tgtTok.Vocabulary.Count, bleuGreedy, bleuBeam,
            result.Best?.Value ?? double.NaN, trainTime, decodeTime, examples);
        if (o.Output is not null)
        {
            // Seq2seq model files arrive with the CLI issue; the parameters are saved as a plain state dict for now.
            string path = Path.Combine(o.Output, "translation-state-dict.safetensors");
            Recur.Tensors.SafeTensorsFile.Save(path, model.NamedParameters().Select(kv => new KeyValuePair<string, Tensor>(kv.Key, kv.Value.Value)));
            if (verbose) Console.WriteLine($"saved {path}");
        }
        if (verbose)
        {
            Console.WriteLine($"held-out corpus BLEU-4 on {test.Length} pairs: greedy {100 * bleuGreedy:F2}, beam ({o.Beam}) {100 * bleuBeam:F2}; " +
                              $"training {ProgressPrinter.Format(trainTime)}, decoding {ProgressPrinter.Format(decodeTime)}");
            foreach (var (s, rf, g, b) in examples) Console.WriteLine($"  {s}\n    reference: {rf}\n    greedy:    {g}\n    beam:      {b}");
        }
        return r;
    }
}
