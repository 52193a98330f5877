using System.Diagnostics;
using Recur.Kernels;
using Recur.Tensors;

namespace Recur.Bench;

/// <summary>
/// Interleaved A/B of the GEMM blocking settings (<c>Gemm.Tuning</c>) in one process: every round times every
/// setting on every shape, in a rotating order, so load changes hit them alike; a setting's figure is the median over
/// rounds of its time (the fastest of a few repetitions) divided by the baseline's time in the same round. Results are bit-identical for every setting
/// (checked here before timing), only the speed differs.
/// </summary>
/// <remarks>
/// <c>gemm-ab [--rounds R] [--reps N] [--threads N] [--configs a,b,...] [--shapes s1,s2,...]</c>. Shapes are
/// <c>n</c> for a square product (B repacked per call, as <c>rnn</c>'s SGEMM row) or <c>MxNxK</c> for a product
/// with a pre-packed B and beta = 1 (the recurrent step's W_hh product). With M at most 4 (the skinny path), <c>MxNxK</c>
/// multiplies by B stored transposed (the forward step's h W_hh^T) and <c>NMxNxK</c> by B stored (K, N) (the backward
/// step's dG W_hh).
/// </remarks>
internal static class GemmAb
{
    /// <summary>A named <c>Gemm.Tuning</c> configuration (its last field, AInPlaceMaxRows, is the largest M that reads A in place; 0: A always packed).</summary>
    private sealed record Config(string Name, Gemm.Tuning.Settings Settings);

    private static readonly Config[] All =
    [
        new("base", new(6, 1, 8, false, false, false)),
        new("pfB", new(6, 1, 8, true, false, false)),
        new("pfC", new(6, 1, 8, false, true, false)),
        new("nc2", new(6, 2, 8, false, false, false)),
        new("nc4", new(6, 4, 8, false, false, false)),
        new("nc4pf", new(6, 4, 8, true, true, false)),
        new("mr8", new(8, 1, 8, false, false, false)),
        new("mr12", new(12, 1, 8, false, false, false)),
        new("mr12nc4pf", new(12, 4, 8, true, true, false)),
        new("mr8pf", new(8, 1, 8, true, true, false)),
        new("mask", new(6, 1, 8, false, false, true)),
        new("nc4pfB", new(6, 4, 8, true, false, false)),
        new("nc4b4", new(6, 4, 4, false, false, false)),
        new("nc8", new(6, 8, 8, false, false, false)),
        new("default", new(0, 4, 8, false, false, false)),  // the library's defaults: tile rows by M, NC loop of 4 row blocks, A packed
        new("ainplace", new(6, 1, 8, false, false, false, 64)),          // base with A read in place for M <= 64
        new("mr8ainplace", new(8, 1, 8, false, false, false, 64)),       // the 8-row tile with A in place
        new("defaultainplace", new(0, 4, 8, false, false, false, 64)),   // the defaults with A in place for M <= 64
    ];

    public static int Run(string[] args)
    {
        int rounds = 15, reps = 5;
        string[] configNames = All.Select(c => c.Name).ToArray();
        string[] shapes = ["512", "1024", "2048", "64x2048x512", "32x512x128", "1x2048x512"];
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds": rounds = int.Parse(args[++i]); break;
                case "--reps": reps = int.Parse(args[++i]); break;
                case "--threads": Parallelism.ThreadCount = int.Parse(args[++i]); break;
                case "--configs": configNames = args[++i].Split(','); break;
                case "--shapes": shapes = args[++i].Split(','); break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'. Usage: gemm-ab [--rounds R] [--reps N] [--threads N] [--configs a,b] [--shapes 512,64x2048x512]");
                    return 2;
            }
        }
        var configs = configNames.Select(n => All.FirstOrDefault(c => c.Name == n)
            ?? throw new ArgumentException($"--configs: unknown setting '{n}'; known: {string.Join(",", All.Select(c => c.Name))}")).ToList();
        if (configs[0].Name != "base") configs.Insert(0, All[0]);
        var defaults = Gemm.Tuning.Current;
        double? peak = RnnBenchmark.FmaPeakOf(SimdDispatch.Current, Parallelism.ThreadCount);
        Console.WriteLine($"width {SimdDispatch.Current}, threads {Parallelism.ThreadCount}, FMA peak {(peak is null ? "-" : peak.Value.ToString("F1"))} GFLOP/s, rounds {rounds} x reps {reps}");
        foreach (var shape in shapes)
        {
            var (m, n, k, square) = Parse(shape.TrimStart('N'));
            var rng = new Rng(7);
            var a = new float[(long)m * k];
            var b = new float[(long)k * n];
            var c = new float[(long)m * n];
            rng.FillUniform(a, -1, 1);
            rng.FillUniform(b, -1, 1);
            var packed = PackedMatrix.Pack(Transpose.No, k, n, b, n);
            Action run = square
                ? () => Gemm.Sgemm(Transpose.No, Transpose.No, m, n, k, 1f, a, k, b, n, 0f, c, n)
                : m <= 4 ? () => Gemm.Sgemm(Transpose.No, Transpose.Yes, m, n, k, 1f, a, k, b, k, 1f, c, n)
                : () => Gemm.Sgemm(Transpose.No, m, 1f, a, k, packed, 1f, c, n);
            if (shape.StartsWith("N")) run = () => Gemm.Sgemm(Transpose.No, Transpose.No, m, n, k, 1f, a, k, b, n, 1f, c, n);
            // Same bits from every setting (beta = 0 here so that repeated runs do not drift).
            float[]? reference = null;
            foreach (var cfg in configs)
            {
                Gemm.Tuning.Apply(cfg.Settings);
                Gemm.Sgemm(Transpose.No, Transpose.No, m, n, k, 1f, a, k, b, n, 0f, c, n);
                if (reference is null) reference = (float[])c.Clone();
                else if (!reference.AsSpan().SequenceEqual(c))
                {
                    Console.Error.WriteLine($"{shape}: setting {cfg.Name} gives different bits from base");
                    return 1;
                }
            }
            var times = configs.ToDictionary(x => x.Name, _ => new List<double>());
            var ratios = configs.ToDictionary(x => x.Name, _ => new List<double>());
            foreach (var cfg in configs) { Gemm.Tuning.Apply(cfg.Settings); for (int w = 0; w < 3; w++) run(); }
            for (int r = 0; r < rounds; r++)
            {
                var round = new Dictionary<string, double>();
                for (int q = 0; q < configs.Count; q++)
                {
                    var cfg = configs[(q + r) % configs.Count];
                    Gemm.Tuning.Apply(cfg.Settings);
                    run();
                    var t = new double[reps];
                    for (int i = 0; i < reps; i++)
                    {
                        long t0 = Stopwatch.GetTimestamp();
                        run();
                        t[i] = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
                    }
                    // The fastest of the repetitions: on a loaded machine noise only adds time.
                    round[cfg.Name] = t.Min();
                    times[cfg.Name].Add(t.Min());
                }
                foreach (var cfg in configs) ratios[cfg.Name].Add(round[cfg.Name] / round["base"]);
            }
            Console.WriteLine($"{shape} ({m}x{n}x{k}{(square ? ", B packed per call, beta 0" : ", B pre-packed, beta 1")}):");
            foreach (var cfg in configs)
            {
                double ms = Median(times[cfg.Name]);
                double g = 2.0 * m * n * k / (ms * 1e-3) / 1e9;
                string frac = peak is null ? "-" : (g / peak.Value).ToString("P0");
                var rs = ratios[cfg.Name];
                Console.WriteLine($"  {cfg.Name,-15} {ms,9:F4} ms {g,8:F1} GFLOP/s {frac,5} of peak   time/base median {Median(rs):F3} (q1 {Quantile(rs, 0.25):F3}, q3 {Quantile(rs, 0.75):F3})");
            }
        }
        Gemm.Tuning.Apply(defaults);
        return 0;
    }

    private static (int M, int N, int K, bool Square) Parse(string shape)
    {
        var parts = shape.Split('x');
        if (parts.Length == 1) { int n = int.Parse(parts[0]); return (n, n, n, true); }
        if (parts.Length == 3) return (int.Parse(parts[0]), int.Parse(parts[1]), int.Parse(parts[2]), false);
        throw new ArgumentException($"--shapes: '{shape}' is neither n nor MxNxK");
    }

    private static double Median(List<double> xs) => Quantile(xs, 0.5);

    private static double Quantile(List<double> xs, double q)
    {
        var s = xs.OrderBy(x => x).ToArray();
        return s[(int)Math.Round(q * (s.Length - 1))];
    }
}
