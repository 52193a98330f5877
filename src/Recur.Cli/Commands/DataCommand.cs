using System.CommandLine;
using Recur.Cli.Data;

namespace Recur.Cli.Commands;

/// <summary>
/// <c>recur data list</c> and <c>recur data fetch NAME</c>: the public datasets the experiments use, downloaded,
/// checked against their SHA-256 and cached (see docs/cli.md).
/// </summary>
internal static class DataCommand
{
    public static Command Create()
    {
        var cmd = new Command("data", "Download and cache the public datasets the experiments use (checked against SHA-256)");

        var list = new Command("list", "List the known datasets with their size, licence and source");
        list.SetAction(_ =>
        {
            foreach (var d in DatasetRegistry.All)
            {
                Console.WriteLine($"{d.Name}: {d.Description}");
                Console.WriteLine($"    {DataFetcher.Plural(d.Files.Count, "file")}, {DataFetcher.FormatBytes(d.TotalBytes)}; licence: {d.License}");
                Console.WriteLine($"    source: {d.Source}");
                if (d.MirrorOnly is not null) Console.WriteLine($"    mirror only: {d.MirrorOnly}");
            }
            return 0;
        });
        cmd.Subcommands.Add(list);

        var fetch = new Command("fetch", "Download datasets into the cache (CACHE/NAME/...), checking each file's size and SHA-256; files already cached are kept");
        var names = new Argument<string[]>("name") { Description = "Dataset names (see 'recur data list')", Arity = ArgumentArity.OneOrMore };
        var cache = new Option<string?>("--cache") { Description = "Cache folder (default: RECUR_DATA_DIR, else $XDG_CACHE_HOME/recur/data, else ~/.cache/recur/data)" };
        var mirror = new Option<string?>("--mirror") { Description = "Base address laid out like ../shared/data (http(s) URL or folder); files are MIRROR/NAME/PATH (default: RECUR_DATA_MIRROR, else the canonical addresses)" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds allowed for each file's download", DefaultValueFactory = _ => 120 };
        fetch.Arguments.Add(names);
        foreach (var o in new Option[] { cache, mirror, timeout }) fetch.Options.Add(o);
        fetch.SetAction(r =>
        {
            // Resolve every name first, so a typo fails before anything is downloaded.
            var datasets = r.GetValue(names)!.Select(DatasetRegistry.Get).Distinct().ToList();
            double seconds = r.GetValue(timeout);
            if (!(seconds > 0)) throw new ArgumentException($"--timeout must be a positive number of seconds, found {seconds}");
            string? m = r.GetValue(mirror);
            if (string.IsNullOrWhiteSpace(m)) m = Environment.GetEnvironmentVariable("RECUR_DATA_MIRROR");
            if (string.IsNullOrWhiteSpace(m)) m = null;
            foreach (var d in datasets) DataFetcher.RequireSource(d, m);
            using var fetcher = new DataFetcher(r.GetValue(cache) ?? DataFetcher.DefaultCache(), m, TimeSpan.FromSeconds(seconds), Console.Out);
            foreach (var d in datasets) fetcher.Fetch(d);
            return 0;
        });
        cmd.Subcommands.Add(fetch);
        cmd.Subcommands.Add(Digits());
        return cmd;
    }

    /// <summary><c>recur data digits</c>: connected-digit utterances built from FSDD recordings (see <see cref="ConnectedDigits"/>).</summary>
    private static Command Digits()
    {
        var cmd = new Command("digits", "Build connected-digit utterances (3-7 digits of one speaker, random pauses and levels, seeded) from FSDD recordings: WAV files and train.tsv/test.tsv transcript lists");
        var fsdd = new Option<string>("--fsdd") { Description = "FSDD recordings folder (<digit>_<speaker>_<take>.wav[.gz], e.g. ../shared/data/fsdd/recordings)", Required = true };
        var output = new Option<string>("--output", "-o") { Description = "Folder to write train/, test/, train.tsv, test.tsv and sources.tsv into", Required = true };
        var seed = new Option<ulong>("--seed") { Description = "Seed of every random choice", DefaultValueFactory = _ => 1 };
        var train = new Option<int>("--train") { Description = "Training utterances", DefaultValueFactory = _ => 3000 };
        var test = new Option<int>("--test") { Description = "Test utterances", DefaultValueFactory = _ => 600 };
        var minDigits = new Option<int>("--min-digits") { Description = "Fewest digits per utterance", DefaultValueFactory = _ => 3 };
        var maxDigits = new Option<int>("--max-digits") { Description = "Most digits per utterance", DefaultValueFactory = _ => 7 };
        var minGap = new Option<double>("--min-pause") { Description = "Shortest pause between digits (and lead-in, tail), seconds", DefaultValueFactory = _ => 0.05 };
        var maxGap = new Option<double>("--max-pause") { Description = "Longest pause between digits (and lead-in, tail), seconds", DefaultValueFactory = _ => 0.4 };
        var level = new Option<double>("--level-db") { Description = "Each clip's level changes by a gain drawn uniformly in +-this many dB", DefaultValueFactory = _ => 6 };
        var noise = new Option<string>("--noise-db") { Description = "Background noise level (Gaussian, std re full scale) in dB, or 'off'", DefaultValueFactory = _ => "-60" };
        var heldOut = new Option<string?>("--held-out-speaker") { Description = "Test on all recordings of this speaker and train on the other five (default: the official split, test utterances from takes 0-4 only)" };
        foreach (var o in new Option[] { fsdd, output, seed, train, test, minDigits, maxDigits, minGap, maxGap, level, noise, heldOut }) cmd.Options.Add(o);
        cmd.SetAction(r =>
        {
            string noiseText = r.GetValue(noise)!;
            double? noiseDb = noiseText == "off" ? null
                : double.TryParse(noiseText, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double db) ? db
                : throw new ArgumentException($"--noise-db: expected a number of dB or 'off', found '{noiseText}'");
            var options = new ConnectedDigitOptions
            {
                Seed = r.GetValue(seed), TrainUtterances = r.GetValue(train), TestUtterances = r.GetValue(test),
                MinDigits = r.GetValue(minDigits), MaxDigits = r.GetValue(maxDigits),
                MinGapSeconds = r.GetValue(minGap), MaxGapSeconds = r.GetValue(maxGap), LevelDb = r.GetValue(level), NoiseDb = noiseDb,
                HeldOutSpeaker = r.GetValue(heldOut),
            };
            try { options.Validate(); }
            catch (ArgumentOutOfRangeException e) { throw new ArgumentException($"recur data digits: {e.Message}"); }
            string dir = r.GetValue(output)!;
            var plan = ConnectedDigits.Write(r.GetValue(fsdd)!, dir, options);
            foreach (var split in new[] { "train", "test" })
            {
                var part = plan.Where(u => u.Split == split).ToList();
                if (part.Count == 0) continue;
                Console.WriteLine($"{split}: {part.Count} utterances, {part.Sum(u => u.Clips.Count)} digits, speakers {string.Join(" ", part.Select(u => u.Speaker).Distinct().Order(StringComparer.Ordinal))} -> {Path.Combine(dir, split + ".tsv")}");
            }
            Console.WriteLine(options.HeldOutSpeaker is { } h ? $"split: held-out speaker {h} (test) vs the others (train); seed {options.Seed}"
                : $"split: official (test utterances from takes 0-4 only, training from takes 5-49); seed {options.Seed}");
            return 0;
        });
        return cmd;
    }
}
