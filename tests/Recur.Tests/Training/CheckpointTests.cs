using Recur.Nn;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Optim;
using Recur.Tensors;
using Recur.Training;

namespace Recur.Tests.Training;

/// <summary>
/// A run interrupted at any optimizer step and resumed from its checkpoint must end with exactly the parameters
/// of the run that was never interrupted: Adam moments, dropout and recurrent-dropout streams, a plateau
/// schedule, a shuffling stream shared across epochs, gradient accumulation and a language model's carried state.
/// </summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recur-ckpt-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private sealed record Run(SequenceClassifier Model, Trainer<SequenceBatch> Trainer, Func<int, IEnumerable<SequenceBatch>> Batches, Func<Evaluation> Validate);

    private static Run MakeClassifierRun(TrainerOptions options)
    {
        var data = new Rng(11);
        var seqs = Enumerable.Range(0, 40).Select(_ => Enumerable.Range(0, 2 + (int)(data.NextUInt64() % 6)).Select(_ => 1 + (int)(data.NextUInt64() % 9)).ToArray()).ToArray();
        var labels = seqs.Select(s => s.Sum() % 3).ToArray();
        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 10, EmbeddingDim = 6, HiddenSize = 7, Layers = 2, Dropout = 0.3f, RecurrentDropout = 0.2f },
            Classes = 3,
        }, new Rng(3));
        var shuffle = new Rng(5);
        var trainer = new Trainer<SequenceBatch>(new Adam(model.Parameters(), 1e-2f), options, new ReduceOnPlateauSchedule(1e-2f, 0.5f, patience: 0));
        trainer.TrackDataRng("shuffle", shuffle);
        IEnumerable<SequenceBatch> Batches(int epoch) =>
            Batching.Batches(seqs.Select(s => s.Length).ToArray(), 6, shuffle).Select(b => SequenceBatch.FromTokens(seqs, b, b.Select(i => labels[i]).ToArray()));
        Evaluation Validate()
        {
            var all = Enumerable.Range(0, seqs.Length).ToArray();
            var loss = ((ITrainable<SequenceBatch>)model).Step(SequenceBatch.FromTokens(seqs, all, labels), backward: false).Loss;
            return new Evaluation("loss", loss, false);
        }
        return new Run(model, trainer, Batches, Validate);
    }

    private static float[] Flat(Recur.Nn.Module m) => m.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();

    [Theory]
    [InlineData(1)]   // early in the first epoch
    [InlineData(7)]   // at the first epoch's end (7 batches per epoch, accumulation 1)
    [InlineData(12)]  // mid second epoch
    [InlineData(20)]  // third epoch
    public void ClassifierResumedAfterCancellationEqualsUninterruptedRun(int stopAtStep)
    {
        var baseOptions = new TrainerOptions { Epochs = 4, LogEvery = 1, KeepBest = true };
        var reference = MakeClassifierRun(baseOptions);
        var expected = reference.Trainer.Fit(reference.Model, reference.Batches, reference.Validate);

        string path = Path.Combine(dir, "run.ckpt");
        var first = MakeClassifierRun(baseOptions with { CheckpointPath = path, CheckpointEvery = 1000 });
        using var cts = new CancellationTokenSource();
        first.Trainer.Progress += p => { if (p.Kind == ProgressKind.Step && p.Step == stopAtStep) cts.Cancel(); };
        var stopped = first.Trainer.Fit(first.Model, first.Batches, first.Validate, cancellation: cts.Token);
        Assert.Equal(StopReason.Cancelled, stopped.Reason);
        Assert.Equal(stopAtStep, stopped.Steps);
        Assert.True(File.Exists(path));

        var resumed = MakeClassifierRun(baseOptions with { ResumeFrom = path, CheckpointPath = path });
        var result = resumed.Trainer.Fit(resumed.Model, resumed.Batches, resumed.Validate);

        Assert.Equal(expected.Steps, result.Steps);
        Assert.Equal(expected.Best!.Value, result.Best!.Value);
        Assert.Equal(expected.BestEpoch, result.BestEpoch);
        Assert.Equal(expected.History.Select(h => (h.TrainLoss, h.LearningRate, h.Validation!.Value)),
            result.History.Select(h => (h.TrainLoss, h.LearningRate, h.Validation!.Value)));
        Assert.Equal(Flat(reference.Model), Flat(resumed.Model));
        Assert.Empty(Directory.GetFiles(dir, "*" + AtomicFile.TempSuffix, SearchOption.AllDirectories));
    }

    [Fact]
    public void PeriodicCheckpointsResumeWithGradientAccumulationAndAreBitExact()
    {
        var options = new TrainerOptions { Epochs = 3, GradientAccumulation = 2, LogEvery = 1 };
        var reference = MakeClassifierRun(options);
        reference.Trainer.Fit(reference.Model, reference.Batches, reference.Validate);

        // Take the checkpoint written at step 5 (of 3 per epoch: 7 batches, accumulation 2, last batch dropped).
        string path = Path.Combine(dir, "acc.ckpt"), kept = Path.Combine(dir, "acc-step5.ckpt");
        var first = MakeClassifierRun(options with { CheckpointPath = path, CheckpointEvery = 1 });
        first.Trainer.Progress += p => { if (p.Kind == ProgressKind.Checkpoint && p.Step == 5 && !File.Exists(kept)) File.Copy(path, kept); };
        first.Trainer.Fit(first.Model, first.Batches, first.Validate);
        Assert.Equal(Flat(reference.Model), Flat(first.Model)); // checkpointing itself changes nothing

        var resumed = MakeClassifierRun(options with { ResumeFrom = kept });
        resumed.Trainer.Fit(resumed.Model, resumed.Batches, resumed.Validate);
        Assert.Equal(Flat(reference.Model), Flat(resumed.Model));
    }

    [Fact]
    public void LanguageModelCarriedStateSurvivesResume()
    {
        var tokens = Enumerable.Range(0, 400).Select(i => 1 + (i * 7 + i / 5) % 6).ToArray();
        var stream = new TbpttStream(tokens, 3, 8);
        LanguageModel Make() => new(new LanguageModelConfig
        {
            Encoder = new EncoderConfig { VocabularySize = 7, EmbeddingDim = 4, HiddenSize = 6, Layers = 2, Dropout = 0.1f },
        }, new Rng(1));
        var options = new TrainerOptions { Epochs = 2, LogEvery = 1 };

        var reference = Make();
        new Trainer<StreamChunk>(new Adam(reference.Parameters(), 1e-2f), options).Fit(reference, _ => stream.Enumerate());

        string path = Path.Combine(dir, "lm.ckpt");
        var first = Make();
        var t1 = new Trainer<StreamChunk>(new Adam(first.Parameters(), 1e-2f), options with { CheckpointPath = path });
        using var cts = new CancellationTokenSource();
        t1.Progress += p => { if (p.Kind == ProgressKind.Step && p.Step == 9) cts.Cancel(); };
        t1.Fit(first, _ => stream.Enumerate(), cancellation: cts.Token);
        var file = SafeTensorsFile.Load(path);
        Assert.Contains("state.hidden", file.Names);
        Assert.Contains("state.cell", file.Names);

        var resumed = Make();
        new Trainer<StreamChunk>(new Adam(resumed.Parameters(), 1e-2f), options with { ResumeFrom = path }).Fit(resumed, _ => stream.Enumerate());
        Assert.Equal(Flat(reference), Flat(resumed));

        // Without the carried state the resumed run differs: the test can tell.
        var wrong = Make();
        var tw = new Trainer<StreamChunk>(new Adam(wrong.Parameters(), 1e-2f), options with { ResumeFrom = path });
        var noState = new StatelessLm(wrong);
        tw.Fit(noState, _ => stream.Enumerate());
        Assert.NotEqual(Flat(reference), Flat(wrong));
    }

    private sealed class StatelessLm(LanguageModel inner) : ITrainable<StreamChunk>
    {
        public Recur.Nn.Module Model => inner;
        public BatchLoss Step(StreamChunk batch, bool backward) => ((ITrainable<StreamChunk>)inner).Step(batch, backward);
        public void StartEpoch(int epoch) => ((ITrainable<StreamChunk>)inner).StartEpoch(epoch);
    }

    [Fact]
    public void DamagedOrForeignCheckpointsGetClearErrors()
    {
        string path = Path.Combine(dir, "c.ckpt");
        var run = MakeClassifierRun(new TrainerOptions { Epochs = 1, CheckpointPath = path, CheckpointEvery = 2 });
        run.Trainer.Fit(run.Model, run.Batches, run.Validate);

        // Truncated.
        var bytes = File.ReadAllBytes(path);
        string cut = Path.Combine(dir, "cut.ckpt");
        File.WriteAllBytes(cut, bytes[..(bytes.Length / 2)]);
        var e1 = Assert.Throws<RecurFormatException>(() => { var r = MakeClassifierRun(new TrainerOptions { ResumeFrom = cut }); r.Trainer.Fit(r.Model, r.Batches); });
        Assert.Contains("cut.ckpt", e1.Message);

        // A model file is not a checkpoint.
        string modelPath = Path.Combine(dir, "m.recur");
        ModelFile.Save(modelPath, new ModelBundle { Model = run.Model });
        var e2 = Assert.Throws<RecurFormatException>(() => { var r = MakeClassifierRun(new TrainerOptions { ResumeFrom = modelPath }); r.Trainer.Fit(r.Model, r.Batches); });
        Assert.Contains("recur-checkpoint", e2.Message);

        // A checkpoint of a different architecture.
        var other = new SequenceClassifier(new ClassifierConfig { Encoder = new EncoderConfig { VocabularySize = 10, EmbeddingDim = 5, HiddenSize = 7 }, Classes = 3 }, new Rng(1));
        var e3 = Assert.Throws<RecurFormatException>(() =>
            new Trainer<SequenceBatch>(new Adam(other.Parameters(), 1e-2f), new TrainerOptions { ResumeFrom = path }).Fit(other, _ => []));
        Assert.Contains("expected shape", e3.Message);
    }
}
