using System.Globalization;

namespace Recur.Cli.Experiments;

/// <summary>Prints trainer progress events as plain lines.</summary>
internal static class ProgressPrinter
{
    public static void Attach<T>(Trainer<T> trainer) => trainer.Progress += Print;

    public static void Print(TrainingProgress p) => Print(p, "/s");

    /// <summary>Prints one event; <paramref name="unit"/> names the throughput (e.g. "tok/s").</summary>
    public static void Print(TrainingProgress p, string unit)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (p.Kind)
        {
            case ProgressKind.Step:
                Console.WriteLine(string.Create(inv,
                    $"  epoch {p.Epoch}/{p.Epochs} step {p.Step}{(p.TotalSteps is { } t ? "/" + t : "")}  loss {p.Loss:F4}  lr {p.LearningRate:G3}  |g| {p.GradientNorm:F2}  {Rate(p.ItemsPerSecond, unit)}  {(p.Eta is { } e ? "eta " + Format(e) : "")}"));
                break;
            case ProgressKind.EpochEnd:
                string val = p.Validation is { } v
                    ? $"  val {v.Name} {v.Value:F4}" + (v.Others is { } o ? "  " + string.Join("  ", o.Select(kv => $"{kv.Key} {kv.Value.ToString("F4", inv)}")) : "")
                    : "";
                Console.WriteLine(string.Create(inv, $"epoch {p.Epoch}/{p.Epochs} done: train loss {p.Loss:F4}{val}  ({Format(p.Elapsed)})"));
                break;
            case ProgressKind.Checkpoint:
                Console.WriteLine($"  {p.Message}");
                break;
            default:
                Console.WriteLine($"  warning: {p.Message}");
                break;
        }
    }

    /// <summary>A throughput: "1234/s", or "1234 tok/s" with a named unit.</summary>
    public static string Rate(double perSecond, string unit) =>
        perSecond.ToString("F0", CultureInfo.InvariantCulture) + (unit == "/s" ? "" : " ") + unit;

    public static string Format(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
