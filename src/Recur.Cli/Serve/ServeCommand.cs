using System.CommandLine;

namespace Recur.Cli.Serve;

/// <summary><c>recur serve</c>: serves model files over HTTP (see docs/serving.md).</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var cmd = new Command("serve", "Serve models over HTTP (JSON): predict, generate (Server-Sent Events), translate, transcribe (a WAV body), /v1/models, /healthz, /readyz, " +
                                       "/metrics (Prometheus) and /openapi/v1.json, with dynamic batching, limits and hot-swap of changed model files (docs/serving.md)");
        var models = new Option<string[]>("--model") { Description = "Model file to serve, as NAME=PATH or PATH (name: the file name without extension, or its folder's name for model.recur); repeat for more", Required = true, AllowMultipleArgumentsPerToken = false };
        var urls = new Option<string>("--urls") { Description = "Addresses to listen on, ';'-separated (port 0: any free port)", DefaultValueFactory = _ => "http://127.0.0.1:8080" };
        var maxBatch = new Option<int>("--max-batch-size") { Description = "Most inputs run as one batch (1: no batching)", DefaultValueFactory = _ => 32 };
        var delay = new Option<int>("--max-batch-delay-ms") { Description = "How long the first request of a batch waits for more (0: run what is queued at once)", DefaultValueFactory = _ => 0 };
        var bytes = new Option<long>("--max-request-bytes") { Description = "Largest request body (larger: 413)", DefaultValueFactory = _ => 1L << 20 };
        var maxLength = new Option<int>("--max-sequence-length") { Description = "Most tokens (or steps, values, frames) in one input (more: 400)", DefaultValueFactory = _ => 4096 };
        var concurrent = new Option<int>("--max-concurrent") { Description = "Most model requests running at once", DefaultValueFactory = _ => 64 };
        var queue = new Option<int>("--max-queue") { Description = "Most requests waiting for a slot; beyond: 429 with Retry-After", DefaultValueFactory = _ => 256 };
        var timeout = new Option<int>("--request-timeout-ms") { Description = "Time limit of one request (beyond: 503, and its work is cancelled)", DefaultValueFactory = _ => 30_000 };
        var genLength = new Option<int>("--max-generate-length") { Description = "Most tokens one generate request may ask for", DefaultValueFactory = _ => 2000 };
        var watch = new Option<int>("--watch-interval-ms") { Description = "Polling interval for changed model files, beside file-system events (0: no hot-swap)", DefaultValueFactory = _ => 2000 };
        var shutdown = new Option<int>("--shutdown-timeout-ms") { Description = "On SIGTERM, how long requests in flight may finish", DefaultValueFactory = _ => 30_000 };
        foreach (var o in new Option[] { models, urls, maxBatch, delay, bytes, maxLength, concurrent, queue, timeout, genLength, watch, shutdown }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            static int AtLeast(string name, int value, int min) => value >= min ? value : throw new ArgumentException($"{name}: expected >= {min}, found {value}");
            var options = new ServeOptions
            {
                Models = Specs(parse.GetValue(models)!),
                Urls = parse.GetValue(urls)!,
                MaxBatchSize = AtLeast("--max-batch-size", parse.GetValue(maxBatch), 1),
                MaxBatchDelayMs = AtLeast("--max-batch-delay-ms", parse.GetValue(delay), 0),
                MaxRequestBytes = parse.GetValue(bytes) >= 1 ? parse.GetValue(bytes) : throw new ArgumentException($"--max-request-bytes: expected >= 1, found {parse.GetValue(bytes)}"),
                MaxSequenceLength = AtLeast("--max-sequence-length", parse.GetValue(maxLength), 1),
                MaxConcurrent = AtLeast("--max-concurrent", parse.GetValue(concurrent), 1),
                MaxQueue = AtLeast("--max-queue", parse.GetValue(queue), 0),
                RequestTimeoutMs = AtLeast("--request-timeout-ms", parse.GetValue(timeout), 1),
                MaxGenerateLength = AtLeast("--max-generate-length", parse.GetValue(genLength), 1),
                WatchIntervalMs = AtLeast("--watch-interval-ms", parse.GetValue(watch), 0),
                ShutdownTimeoutMs = AtLeast("--shutdown-timeout-ms", parse.GetValue(shutdown), 0),
            };
            ServeServer.Build(options).Run();
            return 0;
        });
        return cmd;
    }

    /// <summary>NAME=PATH or PATH, each file existing, names unique and URL-safe.</summary>
    internal static List<(string Name, string Path)> Specs(IEnumerable<string> specs)
    {
        var result = new List<(string, string)>();
        foreach (var spec in specs)
        {
            int eq = spec.IndexOf('=');
            string path = eq > 0 ? spec[(eq + 1)..] : spec;
            string name = eq > 0 ? spec[..eq] : DefaultName(path);
            if (!File.Exists(path)) throw new FileNotFoundException($"--model: {path}: no such file");
            if (name.Length == 0 || !name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
                throw new ArgumentException($"--model: expected a name of letters, digits, '-', '_' or '.', found '{name}' (give one as NAME=PATH)");
            if (result.Any(r => r.Item1 == name)) throw new ArgumentException($"--model: the name '{name}' is given twice (name them with NAME=PATH)");
            result.Add((name, path));
        }
        return result;
    }

    private static string DefaultName(string path)
    {
        string stem = Path.GetFileNameWithoutExtension(path);
        string? folder = Path.GetFileName(Path.GetDirectoryName(Path.GetFullPath(path)));
        return stem == "model" && !string.IsNullOrEmpty(folder) ? folder : stem;
    }
}
