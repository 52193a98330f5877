using Recur.Kernels;
using Recur.Kernels.Reference;
using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Support;

namespace Recur.Tests.Nn;

/// <summary>
/// The CTC loss against three oracles: the sum over every alignment enumerated by brute force (small T), central
/// finite differences of the float64 twin, and the twin itself for the float32 kernel; plus PyTorch's edge semantics
/// (empty targets, zero input lengths, impossible alignments, zero_infinity) and argument checks. The golden PyTorch
/// cases are in GoldenTests.
/// </summary>
public class CtcLossTests
{
    /// <summary>A batch: logits (T, N, C) in float64, lengths and label sequences.</summary>
    public sealed record Batch(int T, int N, int C, double[] Logits, int[] InputLengths, int[][] Targets)
    {
        public Tensor Tensor() => Recur.Tensors.Tensor.FromArray(Logits.Select(v => (float)v).ToArray(), T, N, C);
        public int[] Flat => Targets.SelectMany(x => x).ToArray();
        public int[] TargetLengths => Targets.Select(x => x.Length).ToArray();
    }

    /// <summary>Random logits (seeded) with scale 2, for the given lengths and targets.</summary>
    internal static Batch Make(ulong seed, int t, int c, int[] inputLengths, int[][] targets, double scale = 2)
    {
        var rng = new Rng(seed);
        int n = inputLengths.Length;
        var logits = new double[t * n * c];
        for (int i = 0; i < logits.Length; i++) logits[i] = scale * rng.NextNormal();
        return new Batch(t, n, c, logits, inputLengths, targets);
    }

    /// <summary>
    /// -log sum over all C^T' frame labellings whose collapse (merge repeats, drop blanks) is the target: the
    /// definition of p(l|x), with no recursion.
    /// </summary>
    private static double BruteForceNll(Batch x, int b)
    {
        int il = x.InputLengths[b], c = x.C, n = x.N;
        var lp = new double[il, c];
        for (int f = 0; f < il; f++)
        {
            double s = 0;
            for (int k = 0; k < c; k++) s += Math.Exp(x.Logits[(f * n + b) * c + k]);
            for (int k = 0; k < c; k++) lp[f, k] = x.Logits[(f * n + b) * c + k] - Math.Log(s);
        }
        double p = 0;
        var path = new int[il];
        long count = (long)Math.Pow(c, il);
        for (long code = 0; code < count; code++)
        {
            long r = code;
            double logProb = 0;
            for (int f = 0; f < il; f++) { path[f] = (int)(r % c); r /= c; logProb += lp[f, path[f]]; }
            if (Collapse(path).SequenceEqual(x.Targets[b])) p += Math.Exp(logProb);
        }
        return -Math.Log(p);
    }

    private static List<int> Collapse(int[] path)
    {
        var l = new List<int>();
        for (int f = 0; f < path.Length; f++)
            if (path[f] != 0 && (f == 0 || path[f] != path[f - 1])) l.Add(path[f]);
        return l;
    }

    public static TheoryData<string> SmallCases() => ["distinct", "repeats", "empty and full", "tight"];

    private static Batch Small(string name) => name switch
    {
        "distinct" => Make(1, 6, 4, [6, 5], [[1, 2, 3], [3, 1]]),
        "repeats" => Make(2, 6, 3, [6, 6, 5], [[1, 1, 2], [2, 2], [1, 2, 1]]),
        "empty and full" => Make(3, 5, 3, [5, 4], [[], [2]]),
        // exactly as many frames as the target needs (a blank between the two 1s)
        "tight" => Make(4, 6, 3, [6, 3], [[1, 1, 2, 2], [2, 2]]),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(SmallCases))]
    public void Loss_equals_the_sum_over_all_alignments_by_brute_force(string name)
    {
        var x = Small(name);
        var twin = new double[x.N];
        var fast = new float[x.N];
        CtcReference.Loss(x.Logits, x.T, x.N, x.C, x.InputLengths, x.Targets, mean: false, zeroInfinity: false, sequenceLosses: twin);
        new CtcLoss(CtcReduction.Sum).Forward(x.Tensor(), x.InputLengths, x.Flat, x.TargetLengths, sequenceLosses: fast);
        for (int b = 0; b < x.N; b++)
        {
            double expected = BruteForceNll(x, b);
            Assert.True(Math.Abs(twin[b] - expected) <= 1e-12 * Math.Abs(expected), $"sequence {b}: twin {twin[b]}, brute force {expected}");
            Assert.True(Math.Abs(fast[b] - expected) <= 1e-5 * Math.Abs(expected), $"sequence {b}: float32 {fast[b]}, brute force {expected}");
        }
    }

    public static TheoryData<string, bool> GradientCases() => new()
    {
        { "distinct", true }, { "repeats", true }, { "empty and full", false }, { "tight", true }, { "repeats", false },
    };

    [Theory]
    [MemberData(nameof(GradientCases))]
    public void Twin_gradient_matches_central_finite_differences(string name, bool mean)
    {
        var x = Small(name);
        var grad = new double[x.Logits.Length];
        CtcReference.Loss(x.Logits, x.T, x.N, x.C, x.InputLengths, x.Targets, mean, false, grad);
        var fd = FiniteDifferences.Gradient(x.Logits, () => CtcReference.Loss(x.Logits, x.T, x.N, x.C, x.InputLengths, x.Targets, mean, false));
        double err = Compare.RelativeError(grad, fd);
        Assert.True(err < 1e-7, $"relative error {err:E2}");
        // frames past an input length have no influence
        for (int b = 0; b < x.N; b++)
            for (int f = x.InputLengths[b]; f < x.T; f++)
                for (int k = 0; k < x.C; k++) Assert.Equal(0.0, grad[(f * x.N + b) * x.C + k]);
    }

    public static TheoryData<string> KernelCases() => ["small", "long", "many classes", "repeats and empties"];

    private static Batch Kernel(string name) => name switch
    {
        "small" => Make(10, 7, 5, [7, 4, 6], [[1, 2], [4], [3, 3, 1]]),
        "long" => Make(11, 120, 12, [120, 97, 64, 120], [[1, 2, 3, 4, 5, 6, 7], [11, 11, 11], [2, 5, 9, 9, 1], [.. Enumerable.Range(1, 11)]]),
        "many classes" => Make(12, 30, 61, [30, 21], [[60, 1, 33, 33], [7, 8, 9, 10, 11, 12]]),
        "repeats and empties" => Make(13, 20, 4, [20, 0, 13, 20, 1], [[1, 1, 1, 1], [], [], [3, 2, 3, 2, 3, 2], [2]]),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(KernelCases))]
    public void Float32_kernel_matches_the_float64_twin(string name)
    {
        var x = Kernel(name);
        foreach (var reduction in new[] { CtcReduction.Mean, CtcReduction.Sum })
        {
            bool mean = reduction == CtcReduction.Mean;
            var grad64 = new double[x.Logits.Length];
            var seq64 = new double[x.N];
            double loss64 = CtcReference.Loss(x.Logits, x.T, x.N, x.C, x.InputLengths, x.Targets, mean, false, grad64, seq64);
            var d = new Tensor(x.T, x.N, x.C);
            var seq = new float[x.N];
            float loss = new CtcLoss(reduction).Forward(x.Tensor(), x.InputLengths, x.Flat, x.TargetLengths, d, seq);
            var report = new Compare.Report(1e-4);
            report.Check($"{reduction} loss", new[] { loss }, new[] { loss64 });
            report.Check($"{reduction} sequence losses", seq, seq64);
            report.Check($"{reduction} grad", d.Span, grad64);
            report.AssertAll();
        }
    }

    [Fact]
    public void Batch_first_logits_give_the_same_loss_and_the_transposed_gradient()
    {
        var x = Kernel("small");
        var timeFirst = x.Tensor();
        var batchFirst = new Tensor(x.N, x.T, x.C);
        for (int f = 0; f < x.T; f++)
            for (int b = 0; b < x.N; b++)
                for (int k = 0; k < x.C; k++) batchFirst[b, f, k] = timeFirst[f, b, k];
        var dT = new Tensor(x.T, x.N, x.C);
        var dB = new Tensor(x.N, x.T, x.C);
        dB.Span.Fill(float.NaN);
        float lt = new CtcLoss().Forward(timeFirst, x.InputLengths, x.Flat, x.TargetLengths, dT);
        float lb = new CtcLoss(batchFirst: true).Forward(batchFirst, x.InputLengths, x.Flat, x.TargetLengths, dB);
        Assert.Equal(lt, lb);
        for (int f = 0; f < x.T; f++)
            for (int b = 0; b < x.N; b++)
                for (int k = 0; k < x.C; k++) Assert.Equal(dT[f, b, k], dB[b, f, k]);
    }

    [Fact]
    public void Jagged_targets_give_what_the_concatenated_form_gives()
    {
        var x = Kernel("repeats and empties");
        var d1 = new Tensor(x.T, x.N, x.C);
        var d2 = new Tensor(x.T, x.N, x.C);
        float a = new CtcLoss().Forward(x.Tensor(), x.InputLengths, x.Flat, x.TargetLengths, d1);
        float b = new CtcLoss().Forward(x.Tensor(), x.InputLengths, x.Targets, d2);
        Assert.Equal(a, b);
        Assert.Equal(d1.ToArray(), d2.ToArray());
    }

    [Fact]
    public void Empty_target_scores_the_all_blank_path_and_mean_divides_it_by_one()
    {
        var x = Make(20, 4, 3, [4], [[]]);
        double expected = 0;
        for (int f = 0; f < 4; f++)
        {
            double s = 0;
            for (int k = 0; k < 3; k++) s += Math.Exp(x.Logits[f * 3 + k]);
            expected -= x.Logits[f * 3] - Math.Log(s);
        }
        var d = new Tensor(4, 1, 3);
        float loss = new CtcLoss(CtcReduction.Mean).Forward(x.Tensor(), x.InputLengths, [], [0], d);
        Assert.True(Math.Abs(loss - expected) <= 1e-5 * expected, $"loss {loss}, expected {expected}");
        // gradient softmax - onehot(blank) on every frame
        for (int f = 0; f < 4; f++)
        {
            double s = 0;
            for (int k = 0; k < 3; k++) s += Math.Exp(x.Logits[f * 3 + k]);
            for (int k = 0; k < 3; k++)
            {
                double g = Math.Exp(x.Logits[f * 3 + k]) / s - (k == 0 ? 1 : 0);
                Assert.True(Math.Abs(d[f, 0, k] - g) < 1e-6, $"frame {f} class {k}: {d[f, 0, k]} vs {g}");
            }
        }
    }

    [Fact]
    public void Zero_input_length_gives_zero_for_an_empty_target_and_infinity_otherwise()
    {
        var x = Make(21, 3, 3, [0, 0, 3], [[], [1], [2]]);
        var seq = new float[3];
        var d = new Tensor(3, 3, 3);
        float loss = new CtcLoss(CtcReduction.Sum).Forward(x.Tensor(), x.InputLengths, x.Flat, x.TargetLengths, d, seq);
        Assert.Equal(0f, seq[0]);
        Assert.Equal(float.PositiveInfinity, seq[1]);
        Assert.Equal(float.PositiveInfinity, loss);
        for (int f = 0; f < 3; f++)
            for (int k = 0; k < 3; k++)
            {
                Assert.Equal(0f, d[f, 0, k]);
                Assert.Equal(0f, d[f, 1, k]);
                Assert.True(float.IsFinite(d[f, 2, k]));
            }
    }

    [Fact]
    public void Impossible_alignment_gives_infinity_and_NaN_gradient_on_its_frames_as_PyTorch()
    {
        // [1, 1] needs 3 frames (a blank between), sequence 0 has 2; sequence 1 is possible.
        var x = Make(22, 4, 3, [2, 4], [[1, 1], [2]]);
        var d = new Tensor(4, 2, 3);
        var seq = new float[2];
        float loss = new CtcLoss().Forward(x.Tensor(), x.InputLengths, x.Flat, x.TargetLengths, d, seq);
        Assert.Equal(float.PositiveInfinity, seq[0]);
        Assert.True(float.IsFinite(seq[1]));
        Assert.Equal(float.PositiveInfinity, loss);
        for (int k = 0; k < 3; k++)
        {
            for (int f = 0; f < 2; f++) Assert.True(float.IsNaN(d[f, 0, k]), $"frame {f} class {k}: {d[f, 0, k]}");
            for (int f = 2; f < 4; f++) Assert.Equal(0f, d[f, 0, k]);
            for (int f = 0; f < 4; f++) Assert.True(float.IsFinite(d[f, 1, k]));
        }
        // the twin agrees, from its definitions
        var g64 = new double[x.Logits.Length];
        Assert.Equal(double.PositiveInfinity, CtcReference.Loss(x.Logits, 4, 2, 3, x.InputLengths, x.Targets, true, false, g64));
        Assert.True(double.IsNaN(g64[0]));
    }

    [Fact]
    public void Zero_infinity_gives_loss_zero_and_gradient_zero_for_the_impossible_sequence_only()
    {
        var x = Make(23, 4, 3, [2, 4], [[1, 1], [2]]);
        var d = new Tensor(4, 2, 3);
        var seq = new float[2];
        float loss = new CtcLoss(CtcReduction.Mean, zeroInfinity: true).Forward(x.Tensor(), x.InputLengths, x.Flat, x.TargetLengths, d, seq);
        Assert.Equal(0f, seq[0]);
        Assert.Equal(seq[1] / 1 / 2, loss, 6);
        var g64 = new double[x.Logits.Length];
        double loss64 = CtcReference.Loss(x.Logits, 4, 2, 3, x.InputLengths, x.Targets, true, true, g64);
        var report = new Compare.Report(1e-4);
        report.Check("loss", new[] { loss }, new[] { loss64 });
        report.Check("grad", d.Span, g64);
        report.AssertAll();
        for (int f = 0; f < 4; f++)
            for (int k = 0; k < 3; k++) Assert.Equal(0f, d[f, 0, k]);
    }

    [Fact]
    public void Minimum_input_length_counts_a_blank_between_equal_neighbours()
    {
        Assert.Equal(0, CtcLoss.MinimumInputLength([]));
        Assert.Equal(3, CtcLoss.MinimumInputLength([1, 2, 3]));
        Assert.Equal(3, CtcLoss.MinimumInputLength([1, 1]));
        Assert.Equal(8, CtcLoss.MinimumInputLength([4, 4, 4, 2, 2]));
        // one frame fewer than the minimum is impossible, the minimum is not
        var x = Make(24, 8, 5, [8, 7], [[4, 4, 4, 2, 2], [4, 4, 4, 2, 2]]);
        var seq = new float[2];
        new CtcLoss(CtcReduction.Sum).Forward(x.Tensor(), x.InputLengths, x.Flat, x.TargetLengths, sequenceLosses: seq);
        Assert.True(float.IsFinite(seq[0]));
        Assert.Equal(float.PositiveInfinity, seq[1]);
    }

    [Fact]
    public void Bad_arguments_are_rejected_with_the_argument_and_expected_versus_found()
    {
        var x = Make(25, 5, 4, [5, 5], [[1, 2], [3]]);
        var loss = new CtcLoss();
        var logits = x.Tensor();
        ArgumentException E(Action a) => Assert.ThrowsAny<ArgumentException>(a);
        Assert.Contains("must be in [1, 4) (0 is the blank), got 0", E(() => loss.Forward(logits, [5, 5], [1, 2, 0], [2, 1])).Message);
        Assert.Contains("label 1 of sequence 0", E(() => loss.Forward(logits, [5, 5], [1, 4, 3], [2, 1])).Message);
        Assert.Contains("inputLengths[1] must be in [0, T = 5], got 6", E(() => loss.Forward(logits, [5, 6], [1, 2, 3], [2, 1])).Message);
        Assert.Contains("expected 2, got 1", E(() => loss.Forward(logits, [5], [1, 2, 3], [2, 1])).Message);
        Assert.Contains("sum of targetLengths (expected 3, got 2)", E(() => loss.Forward(logits, [5, 5], [1, 2], [2, 1])).Message);
        Assert.Contains("targetLengths[0] must be >= 0", E(() => loss.Forward(logits, [5, 5], [1, 2, 3], [-1, 4])).Message);
        Assert.Contains("rank 3", E(() => loss.Forward(logits.Reshape(10, 4), [5, 5], [1, 2, 3], [2, 1])).Message);
        Assert.Contains("dLogits must have shape", E(() => loss.Forward(logits, [5, 5], [1, 2, 3], [2, 1], new Tensor(5, 2, 3))).Message);
        logits[0, 0, 0] = float.NaN;
        Assert.Contains("NaN", E(() => loss.Forward(logits, [5, 5], [1, 2, 3], [2, 1])).Message);
    }
}

/// <summary>Changes the thread count and measures allocation, so it runs alone.</summary>
[Collection(nameof(IsolatedCollection))]
public class CtcLossParallelTests
{
    [Fact]
    public void Results_are_bitwise_identical_for_one_two_and_three_threads()
    {
        var lengths = Enumerable.Range(0, 23).Select(b => 80 - 3 * (b % 7)).ToArray();
        var rng = new Rng(30);
        var targets = lengths.Select((l, b) => Enumerable.Range(0, 1 + b % 9).Select(_ => 1 + rng.NextInt(9)).ToArray()).ToArray();
        var x = CtcLossTests.Make(31, 80, 10, lengths, targets);
        (float, float[]) Run(int threads)
        {
            int saved = Parallelism.ThreadCount;
            Parallelism.ThreadCount = threads;
            try
            {
                var d = new Tensor(x.T, x.N, x.C);
                float l = new CtcLoss().Forward(x.Tensor(), x.InputLengths, x.Flat, x.TargetLengths, d);
                return (l, d.ToArray());
            }
            finally { Parallelism.ThreadCount = saved; }
        }
        var one = Run(1);
        foreach (int threads in new[] { 2, 3 })
        {
            var other = Run(threads);
            Assert.Equal(BitConverter.SingleToInt32Bits(one.Item1), BitConverter.SingleToInt32Bits(other.Item1));
            Assert.Equal(one.Item2, other.Item2);
        }
    }

    [Fact]
    public void Allocation_does_not_grow_with_the_number_of_frames()
    {
        var loss = new CtcLoss();
        long Allocated(int t)
        {
            int[] lengths = [t, t - 3, t / 2, t];
            int[][] targets = [[1, 2, 3], [4, 4], [5], [1, 2, 1, 2, 1]];
            var x = CtcLossTests.Make(40, t, 6, lengths, targets);
            var logits = x.Tensor();
            var d = new Tensor(t, 4, 6);
            int[] flat = x.Flat, tl = x.TargetLengths;
            for (int warm = 0; warm < 2; warm++) loss.Forward(logits, lengths, flat, tl, d);
            long before = GC.GetTotalAllocatedBytes(precise: true);
            loss.Forward(logits, lengths, flat, tl, d);
            return GC.GetTotalAllocatedBytes(precise: true) - before;
        }
        long shortRun = Allocated(20), longRun = Allocated(400);
        // No result tensors are created: only what a call costs regardless of T (nothing, once the pools are warm).
        Assert.True(longRun <= shortRun + 64, $"T=400 allocated {longRun} bytes, T=20 {shortRun}");
        Assert.True(longRun < 1024, $"T=400 allocated {longRun} bytes per call");
    }
}
