namespace Recur.Tests.Support;

/// <summary>Relative comparisons as the golden README defines them: max|a-b| / max(|b|, tiny) per tensor.</summary>
public static class Compare
{
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected)
    {
        if (actual.Length != expected.Length)
            throw new ArgumentException($"length mismatch: actual {actual.Length}, expected {expected.Length}");
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double a = actual[i], e = expected[i];
            if (double.IsNaN(a) || double.IsInfinity(a)) return double.PositiveInfinity;
            maxDiff = Math.Max(maxDiff, Math.Abs(a - e));
            maxRef = Math.Max(maxRef, Math.Abs(e));
        }
        return maxDiff / Math.Max(maxRef, 1e-30);
    }

    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        var e = new double[expected.Length];
        for (int i = 0; i < e.Length; i++) e[i] = expected[i];
        return RelativeError(actual, e);
    }

    public static double RelativeError(ReadOnlySpan<double> actual, ReadOnlySpan<double> expected)
    {
        if (actual.Length != expected.Length)
            throw new ArgumentException($"length mismatch: actual {actual.Length}, expected {expected.Length}");
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!double.IsFinite(actual[i])) return double.PositiveInfinity;
            maxDiff = Math.Max(maxDiff, Math.Abs(actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
        }
        return maxDiff / Math.Max(maxRef, 1e-30);
    }

    /// <summary>Collects named comparisons and fails once with all of them listed.</summary>
    public sealed class Report(double tolerance)
    {
        private readonly List<string> lines = [];
        private readonly List<string> failures = [];

        public void Check(string name, double error)
        {
            string line = $"{name}: rel err {error:E2} (tol {tolerance:E0})";
            lines.Add(line);
            if (!(error <= tolerance)) failures.Add(line);
        }

        public void Check(string name, ReadOnlySpan<float> actual, ReadOnlySpan<double> expected) => Check(name, RelativeError(actual, expected));

        public void Check(string name, double[] actual, double[] expected) => Check(name, RelativeError(actual, expected));

        public void Check(string name, float[] actual, float[] expected) => Check(name, RelativeError(actual, expected));

        public int Count => lines.Count;

        public void AssertAll()
        {
            TestContext.Current.TestOutputHelper?.WriteLine(string.Join("\n", lines));
            Assert.True(lines.Count > 0, "nothing was compared");
            Assert.True(failures.Count == 0, $"{failures.Count} of {lines.Count} comparisons failed:\n  " + string.Join("\n  ", failures)
                + "\nall:\n  " + string.Join("\n  ", lines));
        }
    }
}
