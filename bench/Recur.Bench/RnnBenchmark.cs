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
/// and (except for the one-step streaming rows) a training step (zero-grad, forward, backward of loss = sum of
/// outputs to every parameter gradient) with its peak memory, and it times square SGEMM against the machine's
/// measured FMA peak. Medians of repeated runs after warm-up.
/// Output: a table on stdout and, with --json FILE, an array of
/// {"kind","B","T","I","H","L","bi","state","infer_ms","train_ms","train_peak_mb"[,"ort_infer_ms"]},
/// {"kind":"peak","width","gflops"} and {"kind":"gemm","n","gflops","peak_fraction"} objects.
/// </summary>
public static class RnnBenchmark
{
    /// <summary>A row: cell kind, batch, steps, input, hidden, layers; <paramref name="Bi"/> bidirectional;
    /// <paramref name="State"/> passes real initial states h0 (and c0), as streaming inference does.</summary>
    public sealed record Config(string Kind, int B, int T, int I, int H, int L, bool Bi = false, bool State = false);

    /// <summary>
    /// Times ONNX Runtime's inference of a row in ms (median), or null when it cannot run it. Set by the bench
    /// project (bench/Recur.Bench/OrtBenchmark.cs), the only place that references ONNX Runtime: the library and the
    /// <c>recur</c> tool that compiles this file stay free of native dependencies, so <c>--ort</c> is refused there.
    /// Arguments: the row, the layer (its weights are exported), the batch-first input, the time budget in seconds.
    /// </summary>
    public static Func<Config, Recurrent, Tensor, double, double?>? OrtTimer { get; set; }

    public static readonly Config[] Configs =
    [
        new("lstm", 32, 50, 64, 128, 1),
        new("lstm", 64, 100, 256, 512, 1),
        new("lstm", 64, 50, 1024, 1024, 1),
        new("lstm", 64, 100, 64, 512, 2),
        new("gru", 64, 100, 256, 512, 1),
        new("rnn", 64, 100, 256, 512, 1),
        new("lstm", 1, 1, 64, 512, 2),
        // What users run: one streaming step that carries its state, a single sequence, a bidirectional stack.
        new("lstm", 1, 1, 64, 512, 2, State: true),
        new("lstm", 1, 100, 64, 512, 2),
        new("lstm", 32, 100, 128, 256, 2, Bi: true),
    ];

    public static int Run(string[] args)
    {
        string? json = null;
        int? threads = null;
        double seconds = 2.0;
        bool skipGemm = false;
        string? only = null;
        bool ort = false;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--json": json = args[++i]; break;
                case "--threads": threads = int.Parse(args[++i]); break;
                case "--seconds": seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--no-gemm": skipGemm = true; break;
                case "--only": only = args[++i]; break;
                case "--ort": ort = true; break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'. Usage: rnn [--json FILE] [--threads N] [--seconds S] [--no-gemm] [--only KIND] [--ort]");
                    return 2;
            }
        }
        if (ort && OrtTimer is null)
        {
            Console.Error.WriteLine("--ort needs ONNX Runtime, which only the bench project references: run `dotnet run -c Release --project bench/Recur.Bench -- rnn --ort`");
            return 2;
        }
        if (threads is { } t) Parallelism.ThreadCount = t;

        Console.WriteLine($"Recur engine benchmark: {Environment.ProcessorCount} logical cores, {Parallelism.ThreadCount} threads, " +
                          $"SIMD {SimdDispatch.Hardware} (V512 {Vector512.IsHardwareAccelerated}, V256 {Vector256.IsHardwareAccelerated}), " +
                          $".NET {Environment.Version}, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
        var rows = new List<Dictionary<string, object?>>();
        Console.WriteLine($"{"kind",-5} {"B",4} {"T",4} {"I",5} {"H",5} {"L",2} {"bi",3} {"h0",3} {"infer_ms",10} {"train_ms",10} {"train_MB",9}{(ort ? $" {"ort_ms",10}" : "")}");
        foreach (var c in Configs)
        {
            if (only is not null && c.Kind != only) continue;
            var (infer, train, peakMb, ortMs) = Time(c, seconds, ort);
            Console.WriteLine($"{c.Kind,-5} {c.B,4} {c.T,4} {c.I,5} {c.H,5} {c.L,2} {(c.Bi ? "yes" : "no"),3} {(c.State ? "yes" : "no"),3} {infer,10:F3} " +
                              $"{(train is null ? "-" : train.Value.ToString("F3")),10} {(peakMb is null ? "-" : peakMb.Value.ToString("F1")),9}" +
                              (ort ? $" {(ortMs is null ? "-" : ortMs.Value.ToString("F3")),10}" : ""));
            var row = new Dictionary<string, object?>
            {
                ["kind"] = c.Kind, ["B"] = c.B, ["T"] = c.T, ["I"] = c.I, ["H"] = c.H, ["L"] = c.L, ["bi"] = c.Bi, ["state"] = c.State,
                ["infer_ms"] = Math.Round(infer, 4), ["train_ms"] = train is null ? null : Math.Round(train.Value, 4),
                ["train_peak_mb"] = peakMb is null ? null : Math.Round(peakMb.Value, 2),
            };
            if (ort) row["ort_infer_ms"] = ortMs is null ? null : Math.Round(ortMs.Value, 4);
            rows.Add(row);
        }
        if (!skipGemm)
        {
            // The FMA peak of every vector width, all threads at once (clocks drop when every core runs wide FMAs).
            var peaks = new Dictionary<SimdWidth, double>();
            Console.WriteLine($"{"fma peak",-8} {"GFLOP/s",10}");
            foreach (var w in new[] { SimdWidth.V512, SimdWidth.V256, SimdWidth.V128 })
            {
                double? p = FmaPeak(w, Parallelism.ThreadCount);
                if (p is null) continue;
                peaks[w] = p.Value;
                Console.WriteLine($"{w,-8} {p.Value,10:F1}");
                rows.Add(new() { ["kind"] = "peak", ["width"] = w.ToString(), ["gflops"] = Math.Round(p.Value, 2) });
            }
            double? peak = peaks.TryGetValue(SimdDispatch.Current, out var pk) ? pk : null;
            Console.WriteLine($"{"sgemm n",-8} {"GFLOP/s",10} {"of peak",8}");
            foreach (int n in new[] { 512, 1024, 2048 })
            {
                double g = GemmGflops(n, seconds);
                double? fraction = peak is null ? null : g / peak.Value;
                Console.WriteLine($"{n,-8} {g,10:F1} {(fraction is null ? "-" : fraction.Value.ToString("P0")),8}");
                rows.Add(new() { ["kind"] = "gemm", ["n"] = n, ["gflops"] = Math.Round(g, 2), ["peak_fraction"] = fraction is null ? null : Math.Round(fraction.Value, 4) });
            }
        }
        if (json is not null)
        {
            File.WriteAllText(json, ToJson(rows) + "\n", new UTF8Encoding(false));
            Console.WriteLine($"wrote {json}");
        }
        return 0;
    }

    /// <summary>
    /// A row's layer (seed 1) and inputs (seed 2): x uniform in [-1, 1], h0/c0 when the row carries state, and the
    /// all-ones output gradient, d(sum of outputs)/d outputs. Every benchmark that times a row builds it here.
    /// </summary>
    internal static (Recurrent Layer, Tensor X, Tensor? H0, Tensor? C0, Tensor Ones) Setup(Config c)
    {
        var mode = c.Kind switch { "lstm" => RecurrentMode.Lstm, "gru" => RecurrentMode.Gru, _ => RecurrentMode.RnnTanh };
        var layer = new Recurrent(mode, c.I, c.H, c.L, c.Bi, batchFirst: true, rng: new Rng(1));
        var rng = new Rng(2);
        var x = new Tensor(c.B, c.T, c.I);
        rng.FillUniform(x.Span, -1, 1);
        int LD = c.L * layer.Directions;
        Tensor? h0 = null, c0 = null;
        if (c.State)
        {
            h0 = new Tensor(LD, c.B, c.H);
            rng.FillUniform(h0.Span, -1, 1);
            if (mode == RecurrentMode.Lstm)
            {
                c0 = new Tensor(LD, c.B, c.H);
                rng.FillUniform(c0.Span, -1, 1);
            }
        }
        var ones = new Tensor(c.B, c.T, layer.OutputSize);
        ones.Span.Fill(1f); // d(sum of outputs)/d outputs
        return (layer, x, h0, c0, ones);
    }

    private static (double InferMs, double? TrainMs, double? TrainPeakMb, double? OrtMs) Time(Config c, double seconds, bool ort)
    {
        var (layer, x, h0, c0, ones) = Setup(c);

        layer.Training = false;
        double infer = Median(() =>
        {
            using var r = layer.Forward(x, h0: h0, c0: c0, requiresGrad: false);
        }, seconds);
        double? ortMs = ort ? OrtTimer!(c, layer, x, seconds) : null;
        if (c.T == 1) return (infer, null, null, ortMs);
        layer.Training = true;
        var weights = layer.Parameters().Select(p => p.Value).ToArray();
        void Step()
        {
            // A training step follows an optimizer step, which changes the weights: mark them changed so the layer
            // repacks them as it would in training, instead of reusing the packed copies of the previous step.
            foreach (var w in weights) w.MarkChanged();
            layer.ZeroGrad();
            // The input is data: like PyTorch's script (x without requires_grad), only parameter gradients are asked for.
            using var r = layer.Forward(x, h0: h0, c0: c0, inputRequiresGrad: false);
            r.Backward(ones);
        }
        double train = Median(Step, seconds);

        // Peak training memory of one step: the pool's high-water mark (activations, saved states, scratch, results)
        // plus the managed bytes the step allocates, plus what lives across steps (parameters, gradients, input).
        PooledMemory.ResetPeak();
        long pooledBefore = PooledMemory.InUseBytes;
        long managedBefore = GC.GetAllocatedBytesForCurrentThread();
        Step();
        long managed = GC.GetAllocatedBytesForCurrentThread() - managedBefore;
        long pooled = PooledMemory.PeakInUseBytes - pooledBefore;
        long resident = 4L * (2 * layer.Parameters().Sum(p => (long)p.Value.Length) + x.Length + ones.Length);
        double peakMb = (pooled + managed + resident) / (1024.0 * 1024.0);
        return (infer, train, peakMb, ortMs);
    }

    /// <summary>
    /// GFLOP/s of a pure FMA loop at <paramref name="width"/> run on <paramref name="threads"/> threads at once
    /// (12 independent accumulators per thread, enough to cover the FMA latency), or null when the width is not
    /// accelerated. 2 flops per lane per FMA.
    /// </summary>
    private static double? FmaPeak(SimdWidth width, int threads)
    {
        bool ok = width switch
        {
            SimdWidth.V512 => Vector512.IsHardwareAccelerated,
            SimdWidth.V256 => Vector256.IsHardwareAccelerated,
            _ => Vector128.IsHardwareAccelerated,
        };
        if (!ok) return null;
        int lanes = (int)width;
        const long iterations = 20_000_000;
        double best = 0;
        for (int round = 0; round < 3; round++)
        {
            using var start = new Barrier(threads + 1);
            var workers = new Thread[threads];
            var sink = new float[threads];
            for (int t = 0; t < threads; t++)
            {
                int id = t;
                workers[t] = new Thread(() =>
                {
                    start.SignalAndWait();
                    sink[id] = width switch
                    {
                        SimdWidth.V512 => FmaLoop512(iterations),
                        SimdWidth.V256 => FmaLoop256(iterations),
                        _ => FmaLoop128(iterations),
                    };
                }) { IsBackground = true };
                workers[t].Start();
            }
            start.SignalAndWait();
            long t0 = Stopwatch.GetTimestamp();
            foreach (var w in workers) w.Join();
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            if (round == 0) continue; // warm-up: JIT and clocks
            best = Math.Max(best, threads * iterations * 12.0 * lanes * 2 / s / 1e9);
        }
        return best;
    }

    private static float FmaLoop512(long n)
    {
        Vector512<float> a = Vector512.Create(0.999f), b = Vector512.Create(1e-7f);
        Vector512<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < n; i++)
        {
            c0 = Vector512.FusedMultiplyAdd(c0, a, b); c1 = Vector512.FusedMultiplyAdd(c1, a, b);
            c2 = Vector512.FusedMultiplyAdd(c2, a, b); c3 = Vector512.FusedMultiplyAdd(c3, a, b);
            c4 = Vector512.FusedMultiplyAdd(c4, a, b); c5 = Vector512.FusedMultiplyAdd(c5, a, b);
            c6 = Vector512.FusedMultiplyAdd(c6, a, b); c7 = Vector512.FusedMultiplyAdd(c7, a, b);
            c8 = Vector512.FusedMultiplyAdd(c8, a, b); c9 = Vector512.FusedMultiplyAdd(c9, a, b);
            c10 = Vector512.FusedMultiplyAdd(c10, a, b); c11 = Vector512.FusedMultiplyAdd(c11, a, b);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    private static float FmaLoop256(long n)
    {
        Vector256<float> a = Vector256.Create(0.999f), b = Vector256.Create(1e-7f);
        Vector256<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < n; i++)
        {
            c0 = Vector256.FusedMultiplyAdd(c0, a, b); c1 = Vector256.FusedMultiplyAdd(c1, a, b);
            c2 = Vector256.FusedMultiplyAdd(c2, a, b); c3 = Vector256.FusedMultiplyAdd(c3, a, b);
            c4 = Vector256.FusedMultiplyAdd(c4, a, b); c5 = Vector256.FusedMultiplyAdd(c5, a, b);
            c6 = Vector256.FusedMultiplyAdd(c6, a, b); c7 = Vector256.FusedMultiplyAdd(c7, a, b);
            c8 = Vector256.FusedMultiplyAdd(c8, a, b); c9 = Vector256.FusedMultiplyAdd(c9, a, b);
            c10 = Vector256.FusedMultiplyAdd(c10, a, b); c11 = Vector256.FusedMultiplyAdd(c11, a, b);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    private static float FmaLoop128(long n)
    {
        Vector128<float> a = Vector128.Create(0.999f), b = Vector128.Create(1e-7f);
        Vector128<float> c0 = a, c1 = a, c2 = a, c3 = a, c4 = a, c5 = a, c6 = a, c7 = a, c8 = a, c9 = a, c10 = a, c11 = a;
        for (long i = 0; i < n; i++)
        {
            c0 = Vector128.FusedMultiplyAdd(c0, a, b); c1 = Vector128.FusedMultiplyAdd(c1, a, b);
            c2 = Vector128.FusedMultiplyAdd(c2, a, b); c3 = Vector128.FusedMultiplyAdd(c3, a, b);
            c4 = Vector128.FusedMultiplyAdd(c4, a, b); c5 = Vector128.FusedMultiplyAdd(c5, a, b);
            c6 = Vector128.FusedMultiplyAdd(c6, a, b); c7 = Vector128.FusedMultiplyAdd(c7, a, b);
            c8 = Vector128.FusedMultiplyAdd(c8, a, b); c9 = Vector128.FusedMultiplyAdd(c9, a, b);
            c10 = Vector128.FusedMultiplyAdd(c10, a, b); c11 = Vector128.FusedMultiplyAdd(c11, a, b);
        }
        return Vector128.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    /// <summary>The measured FMA peak of <paramref name="width"/> on <paramref name="threads"/> threads (for <c>gemm-ab</c>).</summary>
    internal static double? FmaPeakOf(SimdWidth width, int threads) => FmaPeak(width, threads);

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

    private static int firstTiming = 1;

    /// <summary>
    /// Median wall time in ms: warm-up for at least 3 runs and half a second (2 s for the process's first timing) (so the JIT's tier-1 recompilation,
    /// which competes for the same cores, is over), then at least 5 runs and until the time budget is spent.
    /// </summary>
    internal static double Median(Action action, double seconds)
    {
        var warm = Stopwatch.StartNew();
        // The process's first timing warms up for 2 s: at the start the tiered JIT recompiles much of the library on a
        // background thread, which competes for the cores longer than half a second (the first row, the small LSTM,
        // read 1.3 ms after a long warm-up and up to 3 ms after half a second).
        double warmSeconds = Interlocked.Exchange(ref firstTiming, 0) == 1 ? 2.0 : 0.5;
        for (int i = 0; i < 3 || warm.Elapsed.TotalSeconds < warmSeconds; i++) action();
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
                        case bool bo: w.WriteBoolean(k, bo); break;
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
