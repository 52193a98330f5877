using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Text;
using System.Text.Json;
using Recur.Kernels;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Bench;

/// <summary>
/// The engine benchmark: float32, batch-first, all cores. For each recurrent config it times an inference forward
/// and (except for B = 1) a training step (zero-grad, forward, backward of loss = sum of outputs to every
/// parameter gradient), and it times square SGEMM. Medians of repeated runs after warm-up.
/// Output: a table on stdout and, with --json FILE, an array of
/// {"kind","B","T","I","H","L","infer_ms","train_ms"} and {"kind":"gemm","n","gflops"} objects.
/// </summary>
public static class RnnBenchmark
{
    public sealed record Config(string Kind, int B, int T, int I, int H, int L);

    public static readonly Config[] Configs =
    [
        new("lstm", 32, 50, 64, 128, 1),
        new("lstm", 64, 100, 256, 512, 1),
        new("lstm", 64, 50, 1024, 1024, 1),
        new("lstm", 64, 100, 64, 512, 2),
        new("gru", 64, 100, 256, 512, 1),
        new("rnn", 64, 100, 256, 512, 1),
        new("lstm", 1, 1, 64, 512, 2),
    ];

    public static int Run(string[] args)
    {
        string? json = null;
        int? threads = null;
        double seconds = 2.0;
        bool skipGemm = false;
        string? only = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json": json = args[++i]; break;
                case "--threads": threads = int.Parse(args[++i]); break;
                case "--seconds": seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--no-gemm": skipGemm = true; break;
                case "--only": only = args[++i]; break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'. Usage: rnn [--json FILE] [--threads N] [--seconds S] [--no-gemm] [--only KIND]");
                    return 2;
            }
        }
        if (threads is { } t) Parallelism.ThreadCount = t;

        Console.WriteLine($"Recur engine benchmark: {Environment.ProcessorCount} logical cores, {Parallelism.ThreadCount} threads, " +
                          $"SIMD {SimdDispatch.Hardware} (V512 {Vector512.IsHardwareAccelerated}, V256 {Vector256.IsHardwareAccelerated}), " +
                          $".NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        var rows = new List<Dictionary<string, object?>>();
        Console.WriteLine($"{"kind",-5} {"B",4} {"T",4} {"I",5} {"H",5} {"L",2} {"infer_ms",10} {"train_ms",10}");
        foreach (var c in Configs)
        {
            if (only is not null && c.Kind != only) continue;
            var (infer, train) = Time(c, seconds);
            Console.WriteLine($"{c.Kind,-5} {c.B,4} {c.T,4} {c.I,5} {c.H,5} {c.L,2} {infer,10:F3} {(train is null ? "-" : train.Value.ToString("F3")),10}");
            rows.Add(new() { ["kind"] = c.Kind, ["B"] = c.B, ["T"] = c.T, ["I"] = c.I, ["H"] = c.H, ["L"] = c.L, ["infer_ms"] = Math.Round(infer, 4), ["train_ms"] = train is null ? null : Math.Round(train.Value, 4) });
        }
        if (!skipGemm)
        {
            Console.WriteLine($"{"sgemm n",-8} {"GFLOP/s",10}");
            foreach (int n in new[] { 512, 1024, 2048 })
            {
                double g = GemmGflops(n, seconds);
                Console.WriteLine($"{n,-8} {g,10:F1}");
                rows.Add(new() { ["kind"] = "gemm", ["n"] = n, ["gflops"] = Math.Round(g, 2) });
            }
        }
        if (json is not null)
        {
            File.WriteAllText(json, ToJson(rows) + "\n", new UTF8Encoding(false));
            Console.WriteLine($"wrote {json}");
        }
        return 0;
    }

    private static (double InferMs, double? TrainMs) Time(Config c, double seconds)
    {
        var mode = c.Kind switch { "lstm" => RecurrentMode.Lstm, "gru" => RecurrentMode.Gru, _ => RecurrentMode.RnnTanh };
        var layer = new Recurrent(mode, c.I, c.H, c.L, batchFirst: true, rng: new Rng(1));
        var rng = new Rng(2);
        var x = new Tensor(c.B, c.T, c.I);
        rng.FillUniform(x.Span, -1, 1);
        var ones = new Tensor(c.B, c.T, c.H);
        ones.Span.Fill(1f); // d(sum of outputs)/d outputs

        layer.Training = false;
        double infer = Median(() =>
        {
            using var r = layer.Forward(x, requiresGrad: false);
        }, seconds);
        if (c.B == 1) return (infer, null);
        layer.Training = true;
        double train = Median(() =>
        {
            layer.ZeroGrad();
            using var r = layer.Forward(x);
            r.Backward(ones);
        }, seconds);
        return (infer, train);
    }

    private static double GemmGflops(int n, double seconds)
    {
        var rng = new Rng(3);
        var a = new float[n * n];
        var b = new float[n * n];
        var c = new float[n * n];
        rng.FillUniform(a, -1, 1);
        rng.FillUniform(b, -1, 1);
        double ms = Median(() => Gemm.Sgemm(Transpose.No, Transpose.No, n, n, n, 1f, a, n, b, n, 0f, c, n), seconds);
        return 2.0 * n * n * n / (ms * 1e-3) / 1e9;
    }

    /// <summary>
    /// Median wall time in ms: warm-up for at least 3 runs and half a second (so the JIT's tier-1 recompilation,
    /// which competes for the same cores, is over), then at least 5 runs and until the time budget is spent.
    /// </summary>
    internal static double Median(Action action, double seconds)
    {
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 3 || warm.Elapsed.TotalSeconds < 0.5; i++) action();
        var times = new List<double>();
        var total = Stopwatch.StartNew();
        while (times.Count < 5 || (total.Elapsed.TotalSeconds < seconds && times.Count < 1000))
        {
            long start = Stopwatch.GetTimestamp();
            action();
            times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
        }
        times.Sort();
        return times[times.Count / 2];
    }

    /// <summary>The rows as an indented JSON array, written without reflection (the NativeAOT build runs this too).</summary>
    private static string ToJson(List<Dictionary<string, object?>> rows)
    {
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartArray();
            foreach (var row in rows)
            {
                w.WriteStartObject();
                foreach (var (k, v) in row)
                {
                    switch (v)
                    {
                        case null: w.WriteNull(k); break;
                        case string str: w.WriteString(k, str); break;
                        case int n: w.WriteNumber(k, n); break;
                        case double d: w.WriteNumber(k, d); break;
                        default: w.WriteString(k, Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture)); break;
                    }
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
        }
        return Encoding.UTF8.GetString(ms.ToArray());
    }
}
