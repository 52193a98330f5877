using System.Text.Json.Serialization;

namespace Recur.Data;

/// <summary>
/// Per-column standardisation z = (x - mean) / std, with statistics fitted on training data only, and its inverse.
/// The one rule for a constant column: when a column's variance is at most <see cref="MinVariance"/> (its standard
/// deviation is below 1e-6, as for a column that holds one value), its std is 1, so it becomes x - mean: zero on the
/// training data and the plain offset from the training value elsewhere, never a division by a tiny number.
/// </summary>
/// <param name="Mean">Mean of each column.</param>
/// <param name="Std">Standard deviation of each column (1 for a constant column).</param>
public sealed record Standardizer(float[] Mean, float[] Std)
{
    /// <summary>Variances at or below this count as a constant column (std 1).</summary>
    public const double MinVariance = 1e-12;

    /// <summary>Columns (F).</summary>
    [JsonIgnore] // derived, not stored
    public int Columns => Mean.Length;

    /// <summary>Checks that mean and std have the same length and are finite, with positive stds.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Mean);
        ArgumentNullException.ThrowIfNull(Std);
        if (Mean.Length != Std.Length) throw new ArgumentException($"Std must have one value per column (expected {Mean.Length}, got {Std.Length})", nameof(Std));
        for (int c = 0; c < Mean.Length; c++)
        {
            if (!float.IsFinite(Mean[c])) throw new ArgumentException($"Mean[{c}] must be finite, found {Mean[c]}", nameof(Mean));
            if (!(Std[c] > 0f) || !float.IsFinite(Std[c])) throw new ArgumentException($"Std[{c}] must be finite and positive, found {Std[c]}", nameof(Std));
        }
    }

    /// <summary>
    /// Statistics of rows [0, <paramref name="end"/>) of each column (NaN values skipped), for column-major data
    /// such as a time series.
    /// </summary>
    public static Standardizer FitColumns(float[][] columns, int end)
    {
        ArgumentNullException.ThrowIfNull(columns);
        var acc = new Accumulator(columns.Length);
        for (int c = 0; c < columns.Length; c++)
        {
            if (end > columns[c].Length) throw new ArgumentOutOfRangeException(nameof(end), end, $"end must be <= the length of column {c} ({columns[c].Length})");
            for (int i = 0; i < end; i++) acc.Add(c, columns[c][i]);
        }
        return acc.Result();
    }

    /// <summary>Statistics of each column over <paramref name="rows"/>, each a row of <paramref name="columns"/> values (NaN skipped).</summary>
    public static Standardizer FitRows(IEnumerable<float[]> rows, int columns)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var acc = new Accumulator(columns);
        foreach (var row in rows) acc.AddRow(row);
        return acc.Result();
    }

    /// <summary>
    /// Statistics of each column over frames stored row-major: every <paramref name="columns"/> consecutive values of
    /// each array are one row (the MFCC frames of audio clips, for example; <paramref name="rowsOf"/> gives how many
    /// rows of each array count).
    /// </summary>
    public static Standardizer FitFrames<T>(IEnumerable<T> items, Func<T, float[]> frames, Func<T, int> rowsOf, int columns)
    {
        ArgumentNullException.ThrowIfNull(items);
        var acc = new Accumulator(columns);
        foreach (var item in items)
        {
            var f = frames(item);
            int n = rowsOf(item);
            for (int t = 0; t < n; t++) acc.AddRow(f.AsSpan(t * columns, columns));
        }
        return acc.Result();
    }

    /// <summary>(x - mean) / std of one value of <paramref name="column"/>.</summary>
    public float Apply(int column, float x) => (x - Mean[column]) / Std[column];

    /// <summary>z * std + mean: the inverse of <see cref="Apply(int, float)"/>.</summary>
    public float Invert(int column, float z) => z * Std[column] + Mean[column];

    /// <summary>Standardises one row of <see cref="Columns"/> values into <paramref name="destination"/>.</summary>
    public void Apply(ReadOnlySpan<float> row, Span<float> destination)
    {
        if (row.Length != Mean.Length) throw new ArgumentException($"row.Length must equal Columns (expected {Mean.Length}, got {row.Length})", nameof(row));
        if (destination.Length < row.Length) throw new ArgumentException($"destination must hold {row.Length} values, got {destination.Length}", nameof(destination));
        for (int c = 0; c < row.Length; c++) destination[c] = (row[c] - Mean[c]) / Std[c];
    }

    /// <summary>Standardises row-major frames in place: every <see cref="Columns"/> consecutive values are one row.</summary>
    public void ApplyInPlace(Span<float> frames)
    {
        int w = Mean.Length;
        if (w == 0 || frames.Length % w != 0) throw new ArgumentException($"frames.Length must be a multiple of Columns ({w}), got {frames.Length}", nameof(frames));
        for (int i = 0; i < frames.Length; i++) frames[i] = (frames[i] - Mean[i % w]) / Std[i % w];
    }

    /// <summary>Sums and sums of squares in double; std = sqrt(E[x^2] - E[x]^2), 1 at or below the variance floor.</summary>
    private sealed class Accumulator(int columns)
    {
        private readonly double[] sum = new double[columns], sq = new double[columns];
        private readonly long[] count = new long[columns];

        public void Add(int c, float x)
        {
            if (float.IsNaN(x)) return;
            sum[c] += x;
            sq[c] += (double)x * x;
            count[c]++;
        }

        public void AddRow(ReadOnlySpan<float> row)
        {
            if (row.Length != sum.Length) throw new ArgumentException($"every row must have {sum.Length} values, found {row.Length}");
            for (int c = 0; c < row.Length; c++) Add(c, row[c]);
        }

        public Standardizer Result()
        {
            var mean = new float[sum.Length];
            var std = new float[sum.Length];
            for (int c = 0; c < sum.Length; c++)
            {
                if (count[c] == 0) throw new ArgumentException($"column {c} has no values to fit on");
                double m = sum[c] / count[c], v = Math.Max(0, sq[c] / count[c] - m * m);
                mean[c] = (float)m;
                std[c] = v > MinVariance ? (float)Math.Sqrt(v) : 1f;
            }
            return new Standardizer(mean, std);
        }
    }
}
