namespace Recur.Scoring;

/// <summary>Classification, language-model and regression metrics.</summary>
public static class Metrics
{
    /// <summary>Fraction of predictions equal to their target (rows with target &lt; 0 are ignored).</summary>
    public static double Accuracy(ReadOnlySpan<int> predicted, ReadOnlySpan<int> target)
    {
        Same(predicted.Length, target.Length);
        int n = 0, ok = 0;
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] < 0) continue;
            n++;
            if (predicted[i] == target[i]) ok++;
        }
        return n == 0 ? 0 : (double)ok / n;
    }

    /// <summary>counts[true, predicted] over classes [0, classes); rows with target &lt; 0 are ignored.</summary>
    public static int[,] ConfusionMatrix(ReadOnlySpan<int> predicted, ReadOnlySpan<int> target, int classes)
    {
        Same(predicted.Length, target.Length);
        var m = new int[classes, classes];
        for (int i = 0; i < target.Length; i++)
        {
            if (target[i] < 0) continue;
            if ((uint)target[i] >= (uint)classes || (uint)predicted[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(target), $"class index out of [0, {classes}) at row {i}: target {target[i]}, predicted {predicted[i]}");
            m[target[i], predicted[i]]++;
        }
        return m;
    }

    /// <summary>
    /// Unweighted mean over classes of F1 = 2PR/(P+R). Classes that never occur in target nor prediction are left
    /// out; a class with no true positives scores 0.
    /// </summary>
    public static double MacroF1(ReadOnlySpan<int> predicted, ReadOnlySpan<int> target, int classes)
    {
        var m = ConfusionMatrix(predicted, target, classes);
        double sum = 0;
        int counted = 0;
        for (int c = 0; c < classes; c++)
        {
            int tp = m[c, c], fp = 0, fn = 0;
            for (int k = 0; k < classes; k++)
            {
                if (k == c) continue;
                fp += m[k, c];
                fn += m[c, k];
            }
            if (tp + fp + fn == 0) continue;
            sum += 2.0 * tp / (2.0 * tp + fp + fn);
            counted++;
        }
        return counted == 0 ? 0 : sum / counted;
    }

    /// <summary>e^loss for a mean cross-entropy in nats per token.</summary>
    public static double Perplexity(double natsPerToken) => Math.Exp(natsPerToken);

    /// <summary>A mean cross-entropy in nats per character, in bits.</summary>
    public static double BitsPerCharacter(double natsPerChar) => natsPerChar / Math.Log(2);

    /// <summary>Mean absolute error (NaN targets are skipped).</summary>
    public static double Mae(ReadOnlySpan<float> predicted, ReadOnlySpan<float> target)
    {
        Same(predicted.Length, target.Length);
        double s = 0;
        int n = 0;
        for (int i = 0; i < target.Length; i++)
        {
            if (float.IsNaN(target[i])) continue;
            s += Math.Abs((double)predicted[i] - target[i]);
            n++;
        }
        return n == 0 ? double.NaN : s / n;
    }

    /// <summary>Root mean squared error (NaN targets are skipped).</summary>
    public static double Rmse(ReadOnlySpan<float> predicted, ReadOnlySpan<float> target)
    {
        Same(predicted.Length, target.Length);
        double s = 0;
        int n = 0;
        for (int i = 0; i < target.Length; i++)
        {
            if (float.IsNaN(target[i])) continue;
            double e = (double)predicted[i] - target[i];
            s += e * e;
            n++;
        }
        return n == 0 ? double.NaN : Math.Sqrt(s / n);
    }

    private static void Same(int a, int b)
    {
        if (a != b) throw new ArgumentException($"predictions and targets must have the same length (got {a} and {b})");
    }
}
