namespace Recur.Scoring;

/// <summary>Accuracy, macro-F1 and the confusion matrix of class predictions against the truth.</summary>
/// <param name="Accuracy">Fraction of predictions equal to the truth.</param>
/// <param name="MacroF1">Unweighted mean of the per-class F1 (see <see cref="Metrics.MacroF1"/>).</param>
/// <param name="Confusion">counts[true, predicted].</param>
/// <param name="Count">Number of scored examples (targets &lt; 0 are not scored).</param>
public sealed record ClassificationScores(double Accuracy, double MacroF1, int[,] Confusion, int Count)
{
    /// <summary>Scores <paramref name="predicted"/> against <paramref name="truth"/> over classes [0, <paramref name="classes"/>).</summary>
    public static ClassificationScores Of(ReadOnlySpan<int> predicted, ReadOnlySpan<int> truth, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(classes, 1);
        var confusion = Metrics.ConfusionMatrix(predicted, truth, classes);
        int n = 0;
        foreach (int t in truth) if (t >= 0) n++;
        return new ClassificationScores(Metrics.Accuracy(predicted, truth), Metrics.MacroF1(predicted, truth, classes), confusion, n);
    }
}
