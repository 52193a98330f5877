using System.Globalization;
using ScottPlot;

namespace Recur.Cli.Reporting;

/// <summary>One line of a chart: a name and its points (non-finite points are left out, as gaps).</summary>
internal sealed record Series(string Name, double[] X, double[] Y);

/// <summary>PNG charts drawn with ScottPlot: training curves, per-time-step gradient norms, gradient-norm traces.</summary>
internal static class Plots
{
    /// <summary>Draws <paramref name="series"/> as lines into a PNG at <paramref name="path"/> (written atomically).</summary>
    public static void Lines(string path, string title, string xLabel, string yLabel, IReadOnlyList<Series> series, bool logY = false,
        Alignment legend = Alignment.UpperRight, int width = 800, int height = 480)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        int k = 0;
        foreach (var s in series)
        {
            var xs = new List<double>();
            var ys = new List<double>();
            for (int i = 0; i < s.X.Length; i++)
            {
                double y = s.Y[i];
                if (!double.IsFinite(s.X[i]) || !double.IsFinite(y) || (logY && y <= 0)) continue;
                xs.Add(s.X[i]);
                ys.Add(logY ? Math.Log10(y) : y);
            }
            if (xs.Count == 0) continue;
            var line = plt.Add.ScatterLine(xs.ToArray(), ys.ToArray(), palette.GetColor(k++));
            line.LegendText = s.Name;
            line.LineWidth = 2;
            // A short series (a one-epoch run's single point) is drawn as markers, so it is never an empty chart.
            line.MarkerSize = xs.Count <= 30 ? 7 : 0;
        }
        if (logY)
        {
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = y => "1e" + y.ToString("0", CultureInfo.InvariantCulture),
            };
            plt.Axes.Left.TickGenerator = ticks;
        }
        plt.Title(title);
        plt.XLabel(xLabel);
        plt.YLabel(logY ? yLabel + " (log scale)" : yLabel);
        plt.ShowLegend(legend);
        string dir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, $".{Path.GetFileName(path)}.{Environment.ProcessId}.tmp.png");
        plt.SavePng(temp, width, height);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// Reads a CSV whose first column is x and whose other columns are series (a header names them), as the
    /// experiments and the metrics logs write them. Empty cells and "NaN" are gaps.
    /// </summary>
    public static (string XName, List<Series> Series) ReadCsv(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToList();
        if (lines.Count < 2) throw new InvalidDataException($"{path}: expected a header line and at least one row, found {lines.Count} line(s)");
        var header = lines[0].Split(',');
        if (header.Length < 2) throw new InvalidDataException($"{path} line 1: expected x and at least one series column, found {header.Length} column(s)");
        var x = new double[lines.Count - 1];
        var ys = header.Skip(1).Select(_ => new double[lines.Count - 1]).ToArray();
        for (int r = 1; r < lines.Count; r++)
        {
            var cells = lines[r].Split(',');
            if (cells.Length != header.Length)
                throw new InvalidDataException($"{path} line {r + 1}: expected {header.Length} columns as in the header, found {cells.Length}");
            x[r - 1] = Parse(cells[0], path, r + 1, header[0]);
            for (int c = 1; c < cells.Length; c++) ys[c - 1][r - 1] = cells[c].Length == 0 ? double.NaN : Parse(cells[c], path, r + 1, header[c]);
        }
        return (header[0], header.Skip(1).Select((name, i) => new Series(name, x, ys[i])).ToList());
    }

    private static double Parse(string cell, string path, int line, string column) =>
        double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v
        : cell is "NaN" or "nan" or "inf" or "-inf" or "Infinity" or "-Infinity" ? double.NaN
        : throw new InvalidDataException($"{path} line {line} column '{column}': expected a number, found '{cell}'");
}
