using Recur.Scoring;

namespace Recur.Models;

/// <summary>
/// A sequence regressor evaluated over batches, in evaluation mode (no dropout; the model's mode is restored
/// afterwards): the prediction and the target of every sequence (first output), and the standard error measures.
/// </summary>
/// <param name="Predicted">The predicted value per sequence, in batch order.</param>
/// <param name="Truth">The target value per sequence, in batch order.</param>
public sealed record RegressorEvaluation(float[] Predicted, float[] Truth)
{
    /// <summary>Mean absolute error.</summary>
    public double Mae => Metrics.Mae(Predicted, Truth);

    /// <summary>Root mean squared error.</summary>
    public double Rmse => Metrics.Rmse(Predicted, Truth);

    /// <summary>Mean squared error (the training loss).</summary>
    public double Mse => Rmse * Rmse;

    /// <summary>Evaluates a one-output <see cref="PooledSequenceRegressor"/> on batches that carry their <see cref="SequenceBatch.Values"/>.</summary>
    public static RegressorEvaluation Evaluate(PooledSequenceRegressor model, IEnumerable<SequenceBatch> batches)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batches);
        if (model.Config.Outputs != 1) throw new ArgumentException($"expected a model with one output, found {model.Config.Outputs}", nameof(model));
        var predicted = new List<float>();
        var truth = new List<float>();
        using (model.EvaluationMode())
        {
            foreach (var batch in batches)
            {
                var values = batch.Values ?? throw new ArgumentException("every batch needs its Values to be scored", nameof(batches));
                var p = model.Predict(batch);
                for (int k = 0; k < batch.Batch; k++)
                {
                    predicted.Add(p.Span[k]);
                    truth.Add(values.Span[k]);
                }
            }
        }
        return new RegressorEvaluation([.. predicted], [.. truth]);
    }

    /// <summary>
    /// Evaluates on numeric sequences (each T_i * F values, row-major) and their targets, in batches of
    /// <paramref name="batchSize"/>, standardising with <paramref name="standardizer"/> when given.
    /// </summary>
    public static RegressorEvaluation Evaluate(PooledSequenceRegressor model, IReadOnlyList<float[]> sequences, float[] values, Data.Standardizer? standardizer = null, int batchSize = 128)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sequences);
        int f = model.Config.Encoder.InputFeatures ?? throw new ArgumentException("the model reads token ids, not feature vectors", nameof(model));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be >= 1");
        return Evaluate(model, Enumerable.Range(0, sequences.Count).Chunk(batchSize).Select(idx => SequenceBatch.FromFeatures(sequences, f, idx, values: values, standardizer: standardizer)));
    }
}
