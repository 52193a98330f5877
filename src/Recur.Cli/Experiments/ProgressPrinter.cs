using System.Globalization;

namespace Recur.Cli.Experiments;

/// <summary>Prints trainer progress events as plain lines.</summary>
internal static class ProgressPrinter
{
    public static void Attach<T>(Trainer<T> trainer) => trainer.Progress += Print;

    public static void Print(TrainingProgress p)
    {
        var inv = CultureInfo.InvariantCulture;
        switch (p.Kind)
        {
            case ProgressKind.Step:
                Console.WriteLine(string.Create(inv,
                    $"  epoch {p.Epoch}/{p.Epochs} step {p.Step}{(p.TotalSteps is { } t ? "/" + t : "")}  loss {p.Loss:F4}  lr {p.LearningRate:G3}  |g| {p.GradientNorm:F2}  {p.ItemsPerSecond:F0}/s  {(p.Eta is { } e ? "eta " + Format(e) : "")}"));
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

    public static string Format(TimeSpan t) => t.TotalHours >= 1 ? t.ToString(@"h\:mm\:ss", CultureInfo.InvariantCulture) : t.ToString(@"m\:ss", CultureInfo.InvariantCulture);
}
