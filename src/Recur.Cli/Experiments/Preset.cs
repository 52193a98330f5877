using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Recur.Cli.Commands;
using Recur.Cli.Train;

namespace Recur.Cli.Experiments;

/// <summary>
/// One documented experiment as a preset of <c>recur train</c>: the task and its options, a step that writes the
/// experiment's data split as files the task reads (derived from the shared datasets), and a report that runs the
/// baseline on the same split and prints the comparison. The model is trained by the train command itself, so the
/// experiment writes an ordinary run folder whose model.recur works with evaluate and predict.
/// </summary>
/// <param name="Name">The experiment's name (<c>recur experiment NAME</c>).</param>
/// <param name="Description">One line of help.</param>
/// <param name="Task">The <c>recur train</c> task.</param>
/// <param name="Options">The task's options (name without "--" → value); the user's options override them.</param>
/// <param name="Prepare">Writes the data split under the run's data folder; returns the data options (data, valid, test).</param>
/// <param name="Report">Baselines and the comparison, after the train runs (null: only the train run's metrics).</param>
/// <param name="Seeds">Train runs with consecutive seeds (the figures are their mean ± standard deviation).</param>
internal sealed record Preset(
    string Name, string Description, string Task, IReadOnlyDictionary<string, string> Options,
    Func<PresetRun, IReadOnlyDictionary<string, string>> Prepare, Action<PresetRun>? Report = null, int Seeds = 1);

/// <summary>One run of a preset: where its data and run folders are, the resolved options, and the finished runs.</summary>
internal sealed class PresetRun
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public required Preset Preset { get; init; }
    /// <summary>The shared datasets folder (<c>--data</c> of <c>recur experiment</c>).</summary>
    public required string DataRoot { get; init; }
    /// <summary>The experiment's folder: the run folder itself, or one run folder per seed (seed-N) with several seeds.</summary>
    public required string Dir { get; init; }
    public required ulong Seed { get; init; }
    /// <summary>Options given on the experiment's command line, which override the preset's.</summary>
    public required IReadOnlyDictionary<string, string> Overrides { get; init; }
    /// <summary>Preset-specific settings that are not train options (e.g. a character limit).</summary>
    public IReadOnlyDictionary<string, string> Extra { get; init; } = new Dictionary<string, string>();
    /// <summary>Only write the data split (for <c>recur train</c> on it), without training or baselines.</summary>
    public bool DataOnly { get; init; }

    /// <summary>Where the preset writes the data split it derives from the shared datasets.</summary>
    public string DataDir => Path.Combine(Dir, "data");

    /// <summary>The finished train runs: (run folder, resolved options, test metrics), one per seed.</summary>
    public List<(string Dir, IReadOnlyDictionary<string, string> Options, Dictionary<string, double> Metrics)> Runs { get; } = [];

    public string Shared(params string[] parts) => Path.Combine([DataRoot, .. parts]);

    public string Data(string file)
    {
        Directory.CreateDirectory(DataDir);
        return Path.Combine(DataDir, file);
    }

    /// <summary>The options of the first run (the preset's, the data's and the user's).</summary>
    public IReadOnlyDictionary<string, string> Options => Runs[0].Options;

    /// <summary>The train settings of the first run, as the task code sees them.</summary>
    public Settings Settings => Settings.FromDictionary(Options);

    public Dictionary<string, double> Metrics => Runs[0].Metrics;

    public ModelBundle Model(int run = 0) => ModelFile.Load(Path.Combine(Runs[run].Dir, "model.recur"));

    /// <summary>
    /// Runs <c>recur train</c> with <paramref name="options"/> into <paramref name="dir"/> and returns its exit code;
    /// on success the run is added to <see cref="Runs"/>.
    /// </summary>
    public int Train(IReadOnlyDictionary<string, string> options, string dir)
    {
        var all = new Dictionary<string, string>(options) { ["output"] = dir };
        var args = new List<string>();
        foreach (var (k, v) in all) { args.Add("--" + k); args.Add(v); }
        // An experiment is a named preset: running it again replaces its previous run folder.
        args.Add("--start-over");
        Console.WriteLine("recur train " + string.Join(' ', args.Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"\"{a}\"" : a)));
        int code = TrainCommand.Create().Parse(args).Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        if (code != 0) return code;
        Runs.Add((dir, all, ReadMetrics(Path.Combine(dir, "metrics.json"))));
        return 0;
    }

    private static Dictionary<string, double> ReadMetrics(string path)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.ValueKind == JsonValueKind.Number ? p.Value.GetDouble() : double.NaN);
    }

    /// <summary>Prepares the data, trains (once per seed), then runs the baseline and prints the comparison.</summary>
    public int Run()
    {
        // A preset passes only options of its task (recur train refuses the others): checked before any data is written.
        foreach (var key in Preset.Options.Keys)
            if (Settings.All.First(o => o.Name == key) is var spec && !spec.AppliesTo(Preset.Task))
                throw new InvalidOperationException($"preset {Preset.Name}: --{key} does not apply to --task {Preset.Task} (it applies to {spec.Tasks})");
        Directory.CreateDirectory(Dir);
        var data = Preset.Prepare(this);
        if (DataOnly)
        {
            Console.WriteLine($"experiment {Preset.Name}: data written (--data-only), train on it with: recur train --task {Preset.Task} "
                + string.Join(' ', data.Select(kv => $"--{kv.Key} {kv.Value}")));
            return 0;
        }
        int seeds = Extra.TryGetValue("seeds", out var n) ? int.Parse(n, Inv) : Preset.Seeds;
        for (int k = 0; k < seeds; k++)
        {
            var options = new Dictionary<string, string>(StringComparer.Ordinal) { ["task"] = Preset.Task };
            foreach (var (key, v) in Preset.Options) options[key] = v;
            foreach (var (key, v) in data) options[key] = v;
            options["seed"] = (Seed + (ulong)k).ToString(Inv);
            foreach (var (key, v) in Overrides) options[key] = v;
            DropInactive(options);
            string dir = seeds == 1 ? Dir : Path.Combine(Dir, $"seed-{Seed + (ulong)k}");
            int code = Train(options, dir);
            if (code != 0) return code;
        }
        Console.WriteLine();
        Console.WriteLine($"experiment {Preset.Name}:");
        if (Preset.Report is { } report) report(this);
        else foreach (var (k, v) in Metrics) Console.WriteLine(string.Create(Inv, $"  {k,-20} {v:F4}"));
        return 0;
    }

    /// <summary>
    /// Leaves out the preset's own options that the user's overrides made inactive (the preset's --warmup once
    /// --schedule is changed from cosine), which recur train would refuse as options that take no effect.
    /// </summary>
    private void DropInactive(Dictionary<string, string> options)
    {
        try
        {
            var settings = Settings.FromDictionary(options);
            foreach (var key in Preset.Options.Keys)
                if (!Overrides.ContainsKey(key) && !Settings.All.First(o => o.Name == key).ActsIn(settings)) options.Remove(key);
        }
        catch (ArgumentException)
        {
            // An invalid value: recur train reports it with the option's name.
        }
    }

    /// <summary>Mean and sample standard deviation of a metric over the runs.</summary>
    public (double Mean, double Sd) Stat(string metric)
    {
        var x = Runs.Select(r => r.Metrics[metric]).ToArray();
        double mean = x.Average();
        return (mean, x.Length < 2 ? 0 : Math.Sqrt(x.Sum(v => (v - mean) * (v - mean)) / (x.Length - 1)));
    }
}
