using Recur.Nn;
using Recur.Scoring;

namespace Recur.Models;

/// <summary>
/// A classifier evaluated over batches, in evaluation mode (no dropout; the model's mode is restored afterwards):
/// the predicted class of every example (the most probable one; the first on a tie), the truth, the mean loss and
/// the scores (accuracy, macro-F1, confusion).
/// </summary>
/// <param name="Predicted">Predicted class per example, in batch order.</param>
/// <param name="Truth">The target class per example, in batch order.</param>
/// <param name="Loss">Mean cross-entropy per example, in nats.</param>
/// <param name="Scores">Accuracy, macro-F1 and confusion of <paramref name="Predicted"/> against <paramref name="Truth"/>.</param>
public sealed record ClassifierEvaluation(int[] Predicted, int[] Truth, double Loss, ClassificationScores Scores)
{
    /// <summary>Fraction of examples classified right.</summary>
    public double Accuracy => Scores.Accuracy;

    /// <summary>Unweighted mean of the per-class F1.</summary>
    public double MacroF1 => Scores.MacroF1;

    /// <summary>counts[true, predicted].</summary>
    public int[,] Confusion => Scores.Confusion;

    /// <summary>
    /// Evaluates a sequence classifier on batches that carry their <see cref="SequenceBatch.Targets"/>. The loss is
    /// the mean of -ln p(target) over the examples, with p floored at 1e-30.
    /// </summary>
    public static ClassifierEvaluation Evaluate(SequenceClassifier model, IEnumerable<SequenceBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        int classes = model.Config.Classes;
        var predicted = new List<int>();
        var truth = new List<int>();
        double loss = 0;
        using (model.EvaluationMode())
        {
            foreach (var batch in batches)
            {
                var targets = batch.Targets ?? throw new ArgumentException("every batch needs its Targets to be scored", nameof(batches));
                var p = model.Predict(batch);
                for (int k = 0; k < batch.Batch; k++)
                {
                    var row = p.Span.Slice(k * classes, classes);
                    predicted.Add(ArgMax(row));
                    truth.Add(targets[k]);
                    loss -= Math.Log(Math.Max(row[targets[k]], 1e-30f));
                }
            }
        }
        return Create(predicted, truth, loss / Math.Max(1, truth.Count), classes);
    }

    /// <summary>
    /// Evaluates a classifier over numeric sequences (each T_i * F values, row-major, F the model's input features)
    /// and their classes, in batches of <paramref name="batchSize"/>, standardising every step with
    /// <paramref name="standardizer"/> when given: batching, padding and scoring in one call.
    /// </summary>
    public static ClassifierEvaluation Evaluate(SequenceClassifier model, IReadOnlyList<float[]> sequences, int[] targets, Data.Standardizer? standardizer = null, int batchSize = 128)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentNullException.ThrowIfNull(targets);
        int f = model.Config.Encoder.InputFeatures ?? throw new ArgumentException("the model reads token ids, not feature vectors", nameof(model));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be >= 1");
        return Evaluate(model, Enumerable.Range(0, sequences.Count).Chunk(batchSize).Select(idx => SequenceBatch.FromFeatures(sequences, f, idx, targets, standardizer: standardizer)));
    }

    /// <summary>
    /// Evaluates a feed-forward classifier on batches that carry their <see cref="DenseBatch.Classes"/>. The loss is
    /// the model's own (cross-entropy of the logits), averaged over the examples.
    /// </summary>
    public static ClassifierEvaluation Evaluate(Mlp model, IEnumerable<DenseBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        if (model.Config.Regression) throw new ArgumentException("a regression MLP has no classes to score", nameof(model));
        int classes = model.Config.Outputs;
        var predicted = new List<int>();
        var truth = new List<int>();
        var losses = new List<BatchLoss>();
        using (model.EvaluationMode())
        {
            foreach (var batch in batches)
            {
                var targets = batch.Classes ?? throw new ArgumentException("every batch needs its Classes to be scored", nameof(batches));
                var logits = model.Forward(batch.Inputs);
                for (int k = 0; k < targets.Length; k++)
                {
                    predicted.Add(ArgMax(logits.Span.Slice(k * classes, classes)));
                    truth.Add(targets[k]);
                }
                losses.Add(model.Step(batch, backward: false));
            }
        }
        // One batch keeps its loss exactly; several are weighted by their sizes.
        double loss = losses.Count == 1 ? losses[0].Loss
            : losses.Sum(l => l.Loss * l.Count) / Math.Max(1, losses.Sum(l => l.Count));
        return Create(predicted, truth, loss, classes);
    }

    private static ClassifierEvaluation Create(List<int> predicted, List<int> truth, double loss, int classes)
    {
        int[] p = [.. predicted], t = [.. truth];
        return new ClassifierEvaluation(p, t, loss, ClassificationScores.Of(p, t, classes));
    }

    /// <summary>The index of the largest value (the first on a tie).</summary>
    public static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }
}
