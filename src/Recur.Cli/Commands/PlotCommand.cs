using System.CommandLine;
using Recur.Cli.Reporting;

namespace Recur.Cli.Commands;

/// <summary>Where a chart's legend goes.</summary>
internal enum LegendCorner { UpperRight, UpperLeft, LowerRight, LowerLeft }

/// <summary><c>recur plot CSV</c>: draws a CSV of curves (first column x, one column per series) as a PNG.</summary>
internal static class PlotCommand
{
    public static Command Create()
    {
        var cmd = new Command("plot", "Draw a CSV of curves (first column x, then one column per series, with a header) as a PNG");
        var csv = new Argument<string>("csv") { Description = "The CSV file (e.g. a metrics log or an experiment's curves)" };
        var output = new Option<string?>("--output", "-o") { Description = "PNG to write (default: the CSV's name with .png)" };
        var title = new Option<string?>("--title") { Description = "Chart title (default: the file name)" };
        var xLabel = new Option<string?>("--x-label") { Description = "X axis label (default: the first column's name)" };
        var yLabel = new Option<string>("--y-label") { Description = "Y axis label", DefaultValueFactory = _ => "value" };
        var logY = new Option<bool>("--log-y") { Description = "Logarithmic y axis (non-positive values are left out)" };
        var legend = new Option<LegendCorner>("--legend") { Description = "Corner for the legend", DefaultValueFactory = _ => LegendCorner.UpperRight };
        cmd.Arguments.Add(csv);
        foreach (var o in new Option[] { output, title, xLabel, yLabel, logY, legend }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            string file = r.GetValue(csv)!;
            var (xName, series) = Plots.ReadCsv(file);
            string png = r.GetValue(output) ?? Path.ChangeExtension(file, ".png");
            Plots.Lines(png, r.GetValue(title) ?? Path.GetFileNameWithoutExtension(file), r.GetValue(xLabel) ?? xName, r.GetValue(yLabel)!, series, r.GetValue(logY),
                r.GetValue(legend) switch { LegendCorner.UpperLeft => ScottPlot.Alignment.UpperLeft, LegendCorner.LowerLeft => ScottPlot.Alignment.LowerLeft, LegendCorner.LowerRight => ScottPlot.Alignment.LowerRight, _ => ScottPlot.Alignment.UpperRight });
            Console.WriteLine($"wrote {png}");
            return 0;
        });
        return cmd;
    }
}
