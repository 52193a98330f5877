namespace Recur.Cli.Train;

/// <summary>
/// What <c>recur train --output DIR --resume</c> does with the folder it is given. The folder is the run, wherever it
/// lives now: its saved <c>config.json</c> configures the run (its own output entry is replaced by DIR, so a copied or
/// moved folder resumes in place), and:
/// <list type="bullet">
/// <item>a <c>checkpoint.ckpt</c> (an interrupted run) continues exactly where it stopped;</item>
/// <item>a <c>final.ckpt</c> (a finished run) continues only when <c>--epochs</c> or <c>--max-steps</c> is raised: from the
/// final weights, optimizer moments and data streams, as if the run had been that long from the start;</item>
/// <item>no checkpoint is an error that says what the folder holds, unless <c>--start-over</c> asks to run the saved
/// configuration again from the beginning.</item>
/// </list>
/// Options given with <c>--resume</c> must equal the saved ones, except <c>--epochs</c> and <c>--max-steps</c>, which
/// take effect; any other difference is an error that lists them all.
/// </summary>
internal static class ResumePlan
{
    /// <summary>The options a resumed run may change: how far it goes.</summary>
    public static readonly string[] Extendable = ["epochs", "max-steps"];

    /// <summary>The run's settings (saved configuration, output = <paramref name="dir"/>, extensions applied) and the checkpoint to resume from (null: start over).</summary>
    public static (Settings Settings, string? ResumeFrom) Make(string dir, IReadOnlyDictionary<string, string> given, bool startOver)
    {
        if (File.Exists(dir)) throw new ArgumentException($"--resume: {dir}: expected a run folder, found a file");
        if (!Directory.Exists(dir)) throw new ArgumentException($"--resume: {dir}: expected a run folder of recur train, found nothing there");
        string config = Path.Combine(dir, "config.json");
        if (!File.Exists(config))
            throw new ArgumentException($"--resume: {dir} is not a run folder of recur train: it has no config.json ({Contents(dir)})");
        var saved = Settings.FromJson(config);
        saved.CheckGiven(given.Keys);

        var differing = given.Where(kv => saved.Values.TryGetValue(kv.Key, out var v) && v != kv.Value).ToList();
        var refused = differing.Where(kv => !Extendable.Contains(kv.Key)).ToList();
        if (refused.Count > 0)
            throw new ArgumentException("--resume: a resumed run keeps its saved configuration, but these options differ from it: " +
                string.Join(", ", refused.Select(kv => $"--{kv.Key} {kv.Value} (saved: {Shown(saved.Str(kv.Key))})")) +
                "; only --epochs and --max-steps can change, to train the run further (or start a new run in another --output)");
        var settings = saved.With(differing.Append(new("output", dir)));
        foreach (var (k, v) in differing)
            Console.WriteLine($"note: --{k} {v} (saved: {Shown(saved.Str(k))}) takes effect: the run goes on to {v} {(k == "epochs" ? "epochs" : "optimizer steps")}");
        bool extended = differing.Any(kv => Longer(kv.Key, saved.Str(kv.Key), kv.Value));

        string checkpoint = Path.Combine(dir, "checkpoint.ckpt"), final = Path.Combine(dir, "final.ckpt");
        if (startOver)
        {
            Console.WriteLine($"note: --start-over: running the saved configuration of {dir} from the beginning");
            return (settings, null);
        }
        if (File.Exists(checkpoint)) return (settings, checkpoint);
        if (File.Exists(final))
        {
            if (extended) return (settings, final);
            throw new ArgumentException($"--resume: {dir} holds a finished run (model.recur, {saved.Str("epochs")} epochs" +
                (saved.Str("max-steps") is not "0" and var m ? $", at most {m} steps" : "") +
                "); there is nothing to continue. To train it further from its final weights and optimizer state, give a larger --epochs or --max-steps with --resume");
        }
        throw new ArgumentException($"--resume: {dir} has no checkpoint to continue from: " +
            (File.Exists(Path.Combine(dir, "model.recur"))
                ? "it holds a finished model.recur without a final checkpoint (written by an older Recur), which cannot be trained further with its optimizer state"
                : "the run stopped before its first checkpoint was written") +
            "; add --start-over to run its saved configuration again from the beginning");
    }

    /// <summary>Whether <paramref name="now"/> lets the run go further than <paramref name="before"/> (max-steps 0 is no limit).</summary>
    private static bool Longer(string option, string before, string now)
    {
        if (!long.TryParse(before, out long b) || !long.TryParse(now, out long n)) return false;
        return option == "max-steps" ? b != 0 && (n == 0 || n > b) : n > b;
    }

    private static string Shown(string value) => value.Length == 0 ? "(none)" : value;

    private static string Contents(string dir)
    {
        var names = Directory.EnumerateFileSystemEntries(dir).Select(Path.GetFileName).Order(StringComparer.Ordinal).ToList();
        return names.Count == 0 ? "the folder is empty" : $"it holds {string.Join(", ", names.Take(8))}{(names.Count > 8 ? $" and {names.Count - 8} more" : "")}";
    }
}
