namespace Recur.Tests.Support;

/// <summary>Central finite differences in float64.</summary>
public static class FiniteDifferences
{
    /// <summary>
    /// d loss / d values[i] ≈ (loss(v + h) - loss(v - h)) / 2h for every i, perturbing <paramref name="values"/> in
    /// place and restoring it. The truncation error is O(h^2) and the rounding error O(eps/h); h = 1e-6 balances
    /// them near 1e-10 relative for smooth functions of order one.
    /// </summary>
    public static double[] Gradient(double[] values, Func<double> loss, double h = 1e-6)
    {
        var g = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            double saved = values[i];
            values[i] = saved + h;
            double up = loss();
            values[i] = saved - h;
            double down = loss();
            values[i] = saved;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }
}
