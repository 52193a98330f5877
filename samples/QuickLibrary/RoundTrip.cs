using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Optim;
using Recur.Scoring;
using Recur.Tensors;
using Recur.Training;

namespace QuickLibrary;

/// <summary>
/// Trains a small GRU classifier with the <see cref="Trainer{TBatch}"/> on generated waveforms (as README.md's numeric
/// sequence example, with its settings), saves it with <see cref="ModelFile.Save"/>, loads it back and checks that the loaded
/// model gives bit for bit the probabilities the trained one gives, on every held-out sequence.
/// </summary>
internal static class RoundTrip
{
    public static int Run()
    {
        var train = SyntheticWaveforms.Generate(900, new Rng(1));
        var test = SyntheticWaveforms.Generate(300, new Rng(2));
        var labels = LabelMap.FromData(train.Shapes);
        int[] trainY = [.. train.Shapes.Select(s => labels.IndexOf(s, "train", "label"))];
        int[] testY = [.. test.Shapes.Select(s => labels.IndexOf(s, "test", "label"))];
        var standardizer = Standardizer.FitFrames(train.Sequences, s => s, s => s.Length / 2, columns: 2);

        var model = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { InputFeatures = 2, Cell = RecurrentMode.Gru, HiddenSize = 32 },
            Pooling = Pooling.Mean,
            Classes = labels.Count,
        }, new Rng(3));
        var shuffle = new Rng(4);
        int[] lengths = [.. train.Sequences.Select(s => s.Length / 2)];
        var trainer = new Trainer<SequenceBatch>(new Adam(model.Parameters(), 0.01f), new TrainerOptions { Epochs = 12, ClipNorm = 5f });
        trainer.Fit(model, _ => Batching.Batches(lengths, 32, shuffle)
            .Select(b => SequenceBatch.FromFeatures(train.Sequences, 2, b, trainY, standardizer: standardizer)));
        var scores = ClassifierEvaluation.Evaluate(model, test.Sequences, testY, standardizer);

        var trained = new ModelBundle { Model = model, Labels = labels.Labels, Preprocessing = new ModelPreprocessing { Standardizer = standardizer } }
            .WithTask("sequence");
        string path = Path.Combine(Path.GetTempPath(), $"quick-library-{Environment.ProcessId}.recur");
        try
        {
            ModelFile.Save(path, trained);
            var loaded = ModelFile.Load(path);
            for (int i = 0; i < test.Sequences.Length; i++)
            {
                var before = trained.ClassifySequence(test.Sequences[i]);
                var after = loaded.ClassifySequence(test.Sequences[i]);
                if (before.Label != after.Label || !before.Probabilities.SequenceEqual(after.Probabilities))
                {
                    Console.Error.WriteLine($"round trip: held-out sequence {i}: the trained model gives {before.Label} [{string.Join(", ", before.Probabilities)}], the loaded one {after.Label} [{string.Join(", ", after.Probabilities)}]");
                    return 1;
                }
            }
            Console.WriteLine($"round trip: trained 12 epochs (held-out accuracy {scores.Accuracy:F3}), saved {new FileInfo(path).Length} bytes, loaded; the same probabilities on all {test.Sequences.Length} held-out sequences");
            return 0;
        }
        finally
        {
            File.Delete(path);
        }
    }
}
