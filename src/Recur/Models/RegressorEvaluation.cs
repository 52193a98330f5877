using Recur.Scoring;

namespace Recur.Models;

/// <summary>
/// A sequence regressor evaluated over batches, in evaluation mode (no dropout; the model's mode is restored
/// afterwards): the prediction and the target of every sequence (first output), and the standard error measures. With
/// a target standardizer, the model predicts standardised targets and both are compared in the targets' own units.
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

    /// <summary>
    /// Evaluates a one-output <see cref="PooledSequenceRegressor"/> on batches that carry their <see cref="SequenceBatch.Values"/>;
    /// with <paramref name="target"/>, the batches' values and the model's outputs are standardised targets, and both are
    /// mapped back (z * std + mean) before scoring.
    /// </summary>
    public static RegressorEvaluation Evaluate(PooledSequenceRegressor model, IEnumerable<SequenceBatch> batches, Data.Standardizer? target = null)
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
                    predicted.Add(target is null ? p.Span[k] : target.Invert(0, p.Span[k]));
                    truth.Add(target is null ? values.Span[k] : target.Invert(0, values.Span[k]));
                }
            }
        }
        return new RegressorEvaluation([.. predicted], [.. truth]);
    }

    /// <summary>
    /// Evaluates on numeric sequences (each T_i * F values, row-major) and their targets (raw values), in batches of
    /// <paramref name="batchSize"/>, standardising the features with <paramref name="standardizer"/> when given; with
    /// <paramref name="target"/>, the model predicts standardised targets, mapped back before scoring.
    /// </summary>
    public static RegressorEvaluation Evaluate(PooledSequenceRegressor model, IReadOnlyList<float[]> sequences, float[] values, Data.Standardizer? standardizer = null,
        Data.Standardizer? target = null, int batchSize = 128)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sequences);
        int f = model.Config.Encoder.InputFeatures ?? throw new ArgumentException("the model reads token ids, not feature vectors", nameof(model));
        if (batchSize < 1) throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be >= 1");
        ArgumentNullException.ThrowIfNull(values);
        // Batches carry raw targets here, so only the predictions are mapped back.
        var raw = Evaluate(model, Enumerable.Range(0, sequences.Count).Chunk(batchSize).Select(idx => SequenceBatch.FromFeatures(sequences, f, idx, values: values, standardizer: standardizer)));
        return target is null ? raw : new RegressorEvaluation([.. raw.Predicted.Select(z => target.Invert(0, z))], raw.Truth);
    }
}
