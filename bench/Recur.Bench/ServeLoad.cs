using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.ML.OnnxRuntime;
using Recur.Data;
using Recur.IO;
using Recur.IO.Onnx;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Bench;

/// <summary>
/// A bounded HTTP load client for <c>recur serve</c> on 127.0.0.1: a text classifier (predict, one text per request)
/// and a character language model (generate, 32 tokens), at 1, 8 and 64 concurrent clients, with dynamic batching on
/// (--max-batch-size 64 --max-batch-delay-ms D, --batch-delay-ms D, default 0 as the server) and off (--max-batch-size 1); throughput and p50/p99 latency. Then the
/// same classifier exported to ONNX and run in ONNX Runtime in-process, one text per call and 64 per call. Each cell
/// runs for --seconds (and at most 20,000 requests); loopback only.
/// </summary>
internal static class ServeLoad
{
    private static int batchDelayMs = 0;   // --batch-delay-ms: the batching server's --max-batch-delay-ms

    public static int Run(string[] args)
    {
        string? cli = null;
        double seconds = 5;
        for (int i = 0; i < args.Length; i++)
            switch (args[i])
            {
                case "--cli": cli = args[++i]; break;
                case "--seconds": seconds = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
                case "--batch-delay-ms": batchDelayMs = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"serve-load: unknown option {args[i]}"); return 2;
            }
        if (cli is null || !File.Exists(cli)) { Console.Error.WriteLine("serve-load: --cli PATH/Recur.Cli.dll (the built recur tool) is required"); return 2; }
        string dir = Path.Combine(Path.GetTempPath(), $"recur-serve-load-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        try
        {
            var rng = new Rng(17);
            string[] words = [.. Enumerable.Range(0, 2000).Select(i => "w" + i.ToString(CultureInfo.InvariantCulture))];
            var texts = Enumerable.Range(0, 512).Select(_ => string.Join(' ', Enumerable.Range(0, 5 + rng.NextInt(36)).Select(_ => words[rng.NextInt(words.Length)]))).ToArray();
            var tok = WordTokenizer.Build(texts);
            var classifier = new SequenceClassifier(new ClassifierConfig
            {
                Encoder = new EncoderConfig { VocabularySize = tok.Vocabulary.Count, EmbeddingDim = 64, HiddenSize = 128 }, Classes = 2,
            }, new Rng(1));
            string cls = Path.Combine(dir, "cls.recur");
            ModelFile.Save(cls, new ModelBundle { Model = classifier, Tokenizer = tok, Labels = ["neg", "pos"] }.WithTask("classify"));
            var chars = CharTokenizer.Build(string.Join('\n', texts));
            var lm = new LanguageModel(new LanguageModelConfig { Encoder = new EncoderConfig { VocabularySize = chars.Vocabulary.Count, EmbeddingDim = 64, HiddenSize = 128 } }, new Rng(2));
            string lmPath = Path.Combine(dir, "lm.recur");
            ModelFile.Save(lmPath, new ModelBundle { Model = lm, Tokenizer = chars }.WithTask("lm"));
            Console.WriteLine($"classifier: word LSTM E=64 H=128 V={tok.Vocabulary.Count}, texts of 5-40 words; lm: char LSTM E=64 H=128 V={chars.Vocabulary.Count}, 32 tokens per request");
            Console.WriteLine("| model | batching | clients | requests/s | p50 ms | p99 ms | requests |");
            Console.WriteLine("|---|---|---:|---:|---:|---:|---:|");
            // Both servers run side by side and the cells alternate (on, off) so that the ratios come from one stretch of machine load.
            using var on = Server.Start(cli, [cls, lmPath], batching: true);
            using var off = Server.Start(cli, [cls, lmPath], batching: false);
            Func<int, (string, string)> classify = k => ("/v1/models/cls/predict", $"{{\"inputs\": [\"{texts[k % texts.Length]}\"]}}");
            Func<int, (string, string)> generate = k => ("/v1/models/lm/generate", $"{{\"prompt\": \"w{k % 100}\", \"length\": 32, \"seed\": {k}}}");
            foreach (var server in new[] { on, off })
            {
                // Warm-up (JIT, thread pool, connections), not measured.
                Load(server.Client, 8, Math.Min(2, seconds), classify);
                Load(server.Client, 8, Math.Min(2, seconds), generate);
            }
            foreach (var (model, request) in new[] { ("classifier", classify), ("lm generate", generate) })
                foreach (int clients in new[] { 1, 8, 64 })
                    foreach (var (server, batching) in new[] { (on, "on"), (off, "off") })
                    {
                        var r = Load(server.Client, clients, seconds, request);
                        Console.WriteLine($"| {model} | {batching} | {clients} | {r.Throughput:F1} | {r.P50:F2} | {r.P99:F2} | {r.Count} |");
                    }
            Ort(classifier, tok, texts, dir, seconds);
            InProcess(ModelFile.Load(cls), texts, seconds);
            return 0;
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    private sealed record Result(double Throughput, double P50, double P99, int Count);

    private static Result Load(HttpClient client, int clients, double seconds, Func<int, (string Path, string Body)> request)
    {
        const int MaxRequests = 20_000;
        int next = 0;
        var latencies = new List<double>[clients];
        var total = Stopwatch.StartNew();
        var deadline = TimeSpan.FromSeconds(seconds);
        var tasks = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            var mine = latencies[c] = [];
            while (total.Elapsed < deadline)
            {
                int k = Interlocked.Increment(ref next);
                if (k > MaxRequests) break;
                var (path, body) = request(k);
                var watch = Stopwatch.StartNew();
                using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
                await response.Content.ReadAsByteArrayAsync();
                if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"{path}: {(int)response.StatusCode}");
                mine.Add(watch.Elapsed.TotalMilliseconds);
            }
        })).ToArray();
        Task.WaitAll(tasks);
        double elapsed = total.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).Order().ToArray();
        return new Result(all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), all.Length);
    }

    private static double Percentile(double[] sorted, double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    /// <summary>The classifier in ONNX Runtime, in-process (no HTTP): texts per second at 1 and 64 texts per call.</summary>
    private static void Ort(SequenceClassifier classifier, ITokenizer tok, string[] texts, string dir, double seconds)
    {
        string path = Path.Combine(dir, "cls.onnx");
        var sig = OnnxExport.Export(classifier, path);
        using var options = new SessionOptions { IntraOpNumThreads = Kernels.Parallelism.ThreadCount, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
        using var session = new InferenceSession(path, options);
        var ids = texts.Select(tok.Encode).ToArray();
        for (int pass = 0; pass < 3; pass++)
        {
            // pass 0: warm-up with 64 per call, not printed
            int batch = pass == 1 ? 1 : 64;
            int k = 0, done = 0;
            var watch = Stopwatch.StartNew();
            while (watch.Elapsed.TotalSeconds < (pass == 0 ? 0.5 : seconds))
            {
                var rows = Enumerable.Range(0, batch).Select(_ => ids[k++ % ids.Length]).ToArray();
                int t = rows.Max(r => r.Length);
                var x = new long[t * batch];
                for (int b = 0; b < batch; b++)
                    for (int s = 0; s < rows[b].Length; s++) x[s * batch + b] = rows[b][s];
                using var xv = OrtValue.CreateTensorValueFromMemory(x, [t, batch]);
                using var lv = OrtValue.CreateTensorValueFromMemory(rows.Select(r => r.Length).ToArray(), [batch]);
                using var run = new RunOptions();
                using var results = session.Run(run, [sig.Inputs[0], "lengths"], [xv, lv], ["probabilities"]);
                done += batch;
            }
            if (pass == 0) continue;
            Console.WriteLine($"| classifier, ONNX Runtime in-process | {batch} per call | - | {done / watch.Elapsed.TotalSeconds:F1} texts/s | | | {done} |");
        }
    }

    /// <summary>The same classifier in Recur in-process (no HTTP), as the server runs it: texts per second at 1 and 64 per call.</summary>
    private static void InProcess(ModelBundle bundle, string[] texts, double seconds)
    {
        bool saved = Kernels.Gemm.BatchInvariant;
        Kernels.Gemm.BatchInvariant = true;
        _ = bundle.Model.EvaluationMode();
        try
        {
            bundle.ClassifyMany([.. texts.Take(64)]); // warm-up (JIT), not measured
            foreach (int batch in new[] { 1, 64 })
            {
                int k = 0, done = 0;
                var watch = Stopwatch.StartNew();
                while (watch.Elapsed.TotalSeconds < seconds)
                {
                    bundle.ClassifyMany([.. Enumerable.Range(0, batch).Select(_ => texts[k++ % texts.Length])]);
                    done += batch;
                }
                Console.WriteLine($"| classifier, Recur in-process (ClassifyMany) | {batch} per call | - | {done / watch.Elapsed.TotalSeconds:F1} texts/s | | | {done} |");
            }
        }
        finally { Kernels.Gemm.BatchInvariant = saved; }
    }

    /// <summary>A `recur serve` child process on a free loopback port.</summary>
    private sealed class Server : IDisposable
    {
        private readonly Process process;
        public HttpClient Client { get; }

        private Server(Process process, Uri address)
        {
            this.process = process;
            Client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 256 }) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(120) };
        }

        public static Server Start(string cli, string[] models, bool batching)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in new[] { cli, "serve", "--urls", "http://127.0.0.1:0", "--max-batch-size", batching ? "64" : "1", "--max-batch-delay-ms", batchDelayMs.ToString(CultureInfo.InvariantCulture) }) psi.ArgumentList.Add(a);
            foreach (var m in models) { psi.ArgumentList.Add("--model"); psi.ArgumentList.Add(m); }
            var p = Process.Start(psi)!;
            var ready = new TaskCompletionSource<Uri>();
            p.OutputDataReceived += (_, e) =>
            {
                if (e.Data is null) ready.TrySetException(new InvalidOperationException("recur serve ended before it listened"));
                else if (Regex.Match(e.Data, @"Serving .* on (http://127\.0\.0\.1:\d+)") is { Success: true } m) ready.TrySetResult(new Uri(m.Groups[1].Value));
            };
            p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Console.Error.WriteLine("serve: " + e.Data); };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            return new Server(p, ready.Task.WaitAsync(TimeSpan.FromSeconds(60)).GetAwaiter().GetResult());
        }

        public void Dispose()
        {
            Client.Dispose();
            if (!process.HasExited) { process.Kill(entireProcessTree: true); process.WaitForExit(); }
            process.Dispose();
        }
    }
}
