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
        return cmd;
    }
}
