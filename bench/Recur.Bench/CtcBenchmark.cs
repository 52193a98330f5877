using System.Diagnostics;
using System.Text;
using Recur.Kernels;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Bench;

/// <summary>
/// The CTC loss beside the training step it belongs to: for each row, the median time of <see cref="CtcLoss"/> with
/// its gradient (logits (N, T, C), targets of S labels) and of one whole training step of a bidirectional LSTM
/// acoustic model of matching size (LSTM forward, linear head to C classes, CTC loss and gradient, head backward, LSTM
/// backward), and the loss's share of the step. The two are timed alternately (after a warm-up) so that load on a
/// shared machine falls on both alike. Inputs seeded; all threads unless --threads.
/// </summary>
public static class CtcBenchmark
{
    /// <summary>A row: batch N, frames T, classes C (blank included), labels per target S; the model's input
    /// features I, hidden size H and layers L of the bidirectional LSTM.</summary>
    public sealed record Config(int N, int T, int C, int S, int I, int H, int L);

    public static readonly Config[] Configs =
    [
        // digit strings (blank + 10 digits + space), 2 s of 10 ms frames: the smallest model first (the largest share)
        new(32, 200, 12, 7, 40, 128, 1),
        new(32, 200, 12, 7, 40, 256, 2),
        // characters: 3 s utterances, 40-character transcripts
        new(16, 300, 30, 40, 80, 256, 2),
    ];

    public static int Run(string[] args)
    {
        double seconds = 2.0;
        string? json = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--seconds": seconds = double.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--threads": Parallelism.ThreadCount = int.Parse(args[++i], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--json": json = args[++i]; break;
                default:
                    Console.Error.WriteLine($"unknown option '{args[i]}'. Usage: ctc [--seconds S] [--threads N] [--json FILE]");
                    return 2;
            }
        }
        Console.WriteLine($"Recur CTC benchmark: {Environment.ProcessorCount} logical cores, {Parallelism.ThreadCount} threads, .NET {Environment.Version}");
        Console.WriteLine($"{"N",4} {"T",4} {"C",3} {"S",3} {"I",4} {"H",4} {"L",2} {"ctc_ms",9} {"step_ms",9} {"share",7}");
        var lines = new List<string>();
        foreach (var c in Configs)
        {
            var (ctc, step) = Time(c, seconds);
            Console.WriteLine($"{c.N,4} {c.T,4} {c.C,3} {c.S,3} {c.I,4} {c.H,4} {c.L,2} {ctc,9:F3} {step,9:F3} {ctc / step,7:P1}");
            lines.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"  {{\"kind\": \"ctc\", \"N\": {c.N}, \"T\": {c.T}, \"C\": {c.C}, \"S\": {c.S}, \"I\": {c.I}, \"H\": {c.H}, \"L\": {c.L}, \"bi\": true, \"ctc_ms\": {ctc:F4}, \"step_ms\": {step:F4}}}"));
        }
        if (json is not null)
        {
            File.WriteAllText(json, "[\n" + string.Join(",\n", lines) + "\n]\n", new UTF8Encoding(false));
            Console.WriteLine($"wrote {json}");
        }
        return 0;
    }

    private static (double CtcMs, double StepMs) Time(Config c, double seconds)
    {
        var rng = new Rng(5);
        var lstm = new Lstm(c.I, c.H, c.L, bidirectional: true, batchFirst: true, rng: new Rng(6));
        var head = new Linear(2 * c.H, c.C, rng: new Rng(7));
        var x = new Tensor(c.N, c.T, c.I);
        rng.FillUniform(x.Span, -1, 1);
        // lengths from T down to 3T/4; S random labels in [1, C)
        int[] inputLengths = [.. Enumerable.Range(0, c.N).Select(b => c.T - b * (c.T / 4) / Math.Max(1, c.N - 1))];
        int[] targets = [.. Enumerable.Range(0, c.N * c.S).Select(_ => 1 + rng.NextInt(c.C - 1))];
        int[] targetLengths = [.. Enumerable.Repeat(c.S, c.N)];
        var loss = new CtcLoss(CtcReduction.Mean, batchFirst: true);

        var logits = new Tensor(c.N, c.T, c.C);
        rng.FillNormal(logits.Span, 0, 2);
        var dLogits = new Tensor(c.N, c.T, c.C);
        void Ctc() => loss.Forward(logits, inputLengths, targets, targetLengths, dLogits);

        var weights = lstm.Parameters().Concat(head.Parameters()).Select(p => p.Value).ToArray();
        void Step()
        {
            foreach (var w in weights) w.MarkChanged();  // as after an optimizer step
            lstm.ZeroGrad();
            head.ZeroGrad();
            using var r = lstm.Forward(x, inputLengths);
            var y = head.Forward(r.Output);
            loss.Forward(y.Output, inputLengths, targets, targetLengths, dLogits);
            r.Backward(y.Backward(dLogits));
        }
        // Interleaved, one loss then one step, so that load on a shared machine hits both alike; medians of each.
        var warm = Stopwatch.StartNew();
        for (int i = 0; i < 3 || warm.Elapsed.TotalSeconds < 0.5; i++) { Ctc(); Step(); }
        var ctcTimes = new List<double>();
        var stepTimes = new List<double>();
        var total = Stopwatch.StartNew();
        while (ctcTimes.Count < 5 || (total.Elapsed.TotalSeconds < seconds && ctcTimes.Count < 1000))
        {
            long t0 = Stopwatch.GetTimestamp();
            Ctc();
            long t1 = Stopwatch.GetTimestamp();
            Step();
            ctcTimes.Add(Stopwatch.GetElapsedTime(t0, t1).TotalMilliseconds);
            stepTimes.Add(Stopwatch.GetElapsedTime(t1).TotalMilliseconds);
        }
        ctcTimes.Sort();
        stepTimes.Sort();
        double ctc = ctcTimes[ctcTimes.Count / 2], step = stepTimes[stepTimes.Count / 2];
        return (ctc, step);
    }
}
