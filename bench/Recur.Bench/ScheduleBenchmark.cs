using System.Diagnostics;
using Recur.Kernels;
using Recur.Kernels.Recurrent;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Bench;

/// <summary>
/// A/B of the recurrent engine's schedules (<see cref="RecurrentStepSchedule"/>) on the benchmark's rows:
/// inference forward (and, with --train, a training step, whose backward runs batch-parallel exactly when its forward
/// does, so the BatchParallel column includes the batch-parallel backward) timed with each schedule in turn, alternating schedule by
/// schedule for many rounds in one process, so machine load hits them alike. Prints the median ms of each schedule and
/// its ratio to the per-step engine, and the same for the minimum (the least disturbed sample); with --ort also ONNX Runtime's median on the same row (timed once, after).
/// Usage: schedule [--rounds N] [--threads N] [--train] [--ort] [--row "lstm 32 50 64 128 1 [bi] [state]"]...
/// </summary>
public static class ScheduleBenchmark
{
    private static readonly RecurrentStepSchedule[] Schedules =
        [RecurrentStepSchedule.PerStep, RecurrentStepSchedule.BatchParallel, RecurrentStepSchedule.HiddenBlocks, RecurrentStepSchedule.Auto];

    /// <summary>The rows that missed "inference &lt;= ORT" on the quiet run, and two large rows to check nothing gets slower.</summary>
    private static readonly RnnBenchmark.Config[] DefaultRows =
    [
        new("lstm", 32, 50, 64, 128, 1),
        new("lstm", 1, 1, 64, 512, 2, State: true),
        new("lstm", 1, 100, 64, 512, 2),
        new("lstm", 32, 100, 128, 256, 2, Bi: true),
        new("lstm", 64, 100, 256, 512, 1),
        new("gru", 64, 100, 256, 512, 1),
    ];

    public static int Run(string[] args)
    {
        int rounds = 30;
        bool train = false, ort = false;
        var rows = new List<RnnBenchmark.Config>();
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--rounds": rounds = int.Parse(args[++i]); break;
                case "--threads": Parallelism.ThreadCount = int.Parse(args[++i]); break;
                case "--train": train = true; break;
                case "--ort": ort = true; break;
                case "--row": rows.Add(ParseRow(args[++i])); break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'. Usage: schedule [--rounds N] [--threads N] [--train] [--ort] [--row \"lstm 32 50 64 128 1 [bi] [state]\"]...");
                    return 2;
            }
        }
        if (rows.Count == 0) rows.AddRange(DefaultRows);
        Console.WriteLine($"schedule A/B: {Parallelism.ThreadCount} threads, SIMD {SimdDispatch.Hardware}, {rounds} rounds, medians in ms, ratio = schedule / PerStep");
        Console.WriteLine($"{"row",-30} {"what",-6} {string.Join(" ", Schedules.Select(s => $"{s,13}"))} {"ort",9}" +
                          (train ? $" {"BP fwd only",13}" : ""));
        if (train)
            Console.WriteLine("(train rows: BP fwd only = BatchParallel forward with the backward per step, the A/B of the backward alone)");
        foreach (var c in rows)
        {
            Measure(c, rounds, training: false, ort);
            if (train && c.T > 1) Measure(c, rounds, training: true, ort: false);
        }
        return 0;
    }

    private static RnnBenchmark.Config ParseRow(string s)
    {
        var f = s.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return new(f[0], int.Parse(f[1]), int.Parse(f[2]), int.Parse(f[3]), int.Parse(f[4]), int.Parse(f[5]),
            Bi: f.Contains("bi"), State: f.Contains("state"));
    }

    private static void Measure(RnnBenchmark.Config c, int rounds, bool training, bool ort)
    {
        var (layer, x, h0, c0, ones) = RnnBenchmark.Setup(c);
        layer.Training = training;
        var engines = Schedules.Select(s => new RecurrentEngineOptions { Schedule = s }).ToList();
        // Training: one more engine, batch-parallel forward with the per-step backward (the backward's own A/B).
        if (training) engines.Add(new RecurrentEngineOptions { Schedule = RecurrentStepSchedule.BatchParallel, BatchParallelBackward = false });
        void Once()
        {
            if (!training)
            {
                using var r = layer.Forward(x, h0: h0, c0: c0, requiresGrad: false);
                return;
            }
            layer.ZeroGrad();
            using var t = layer.Forward(x, h0: h0, c0: c0, inputRequiresGrad: false);   // as the rnn benchmark's training step
            t.Backward(ones);
        }
        // Repetitions per sample: enough for about 2 ms, so the timer's resolution does not matter.
        layer.Engine = engines[0];
        Once();
        long t0 = Stopwatch.GetTimestamp();
        Once();
        double single = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        int reps = Math.Max(1, (int)(2.0 / Math.Max(single, 1e-3)));
        var samples = engines.Select(_ => new List<double>()).ToArray();
        for (int round = 0; round < rounds + 2; round++)
        {
            for (int s = 0; s < engines.Count; s++)
            {
                layer.Engine = engines[s];
                long start = Stopwatch.GetTimestamp();
                for (int i = 0; i < reps; i++) Once();
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds / reps;
                if (round >= 2) samples[s].Add(ms); // two warm-up rounds
            }
        }
        double[] med = samples.Select(Median).ToArray();
        double[] min = samples.Select(x => x.Min()).ToArray();
        string ortCell = "-";
        if (ort && RnnBenchmark.OrtTimer is { } timer)
        {
            layer.Training = false;
            double? o = timer(c, layer, x, 2.0);
            if (o is { } v) ortCell = v.ToString("F3");
        }
        string name = $"{c.Kind} {c.B} {c.T} {c.I} {c.H} {c.L}{(c.Bi ? " bi" : "")}{(c.State ? " state" : "")}";
        string Cells(double[] v, int from, int count) => string.Join(" ", v.Skip(from).Take(count).Select(m => $"{m,7:F3} {m / v[0],5:F2}"));
        int n = Schedules.Length;
        Console.WriteLine($"{name,-30} {(training ? "train" : "infer"),-6} " + Cells(med, 0, n) + $" {ortCell,9}" +
                          (med.Length > n ? " " + Cells(med, n, med.Length - n) : ""));
        // The minimum: on a loaded machine the least disturbed sample, closer to what a quiet machine gives.
        Console.WriteLine($"{"",-30} {"min",-6} " + Cells(min, 0, n) + (min.Length > n ? $" {"",9} " + Cells(min, n, min.Length - n) : ""));
    }

    private static double Median(List<double> xs)
    {
        var a = xs.OrderBy(v => v).ToArray();
        return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2;
    }
}
