using Recur.Kernels;
using Recur.Kernels.Reference;
using Recur.Tensors;

namespace Recur.KernelCheck;

/// <summary>One kernel-versus-twin comparison.</summary>
public sealed record TwinResult(string Kernel, string Case, SimdWidth Width, double Error, double Tolerance)
{
    public bool Passed => Error <= Tolerance;
    public override string ToString() => $"{Kernel} [{Case}] width={Width}: err {Error:E2} (tol {Tolerance:E1})";
}

/// <summary>
/// Every fast kernel against its naive twin over odd shapes, at one vector width. Used in-process by the unit
/// tests (forcing each width) and by the KernelCheck program (at the width the runtime switches leave).
/// </summary>
public static unsafe class KernelTwinChecks
{
    /// <summary>Odd and boundary sizes: 1, primes, around the vector widths and the micro-kernel tile.</summary>
    public static readonly int[] Sizes = [1, 2, 3, 5, 7, 8, 15, 16, 17, 31, 33, 63, 65];

    public static List<TwinResult> All(SimdWidth width, bool quick = false)
    {
        var results = new List<TwinResult>();
        results.AddRange(GemmChecks(width, quick));
        results.AddRange(CellChecks(width, quick));
        results.AddRange(ActivationChecks(width));
        return results;
    }

    // ---------------------------------------------------------------- GEMM

    public static IEnumerable<TwinResult> GemmChecks(SimdWidth width, bool quick = false)
    {
        var rng = new Rng(1234);
        int[] sizes = quick ? [1, 3, 17, 65] : Sizes;
        foreach (var ta in new[] { Transpose.No, Transpose.Yes })
            foreach (var tb in new[] { Transpose.No, Transpose.Yes })
                foreach (int m in sizes)
                    foreach (int n in sizes)
                        foreach (int k in new[] { 1, 7, 64, 300 })
                        {
                            if (quick && k == 300 && m * n > 100) continue;
                            // Rotate through beta = 0 (C holds NaN garbage that must not be read), 1 and 0.5.
                            float beta = ((m + n + k) % 3) switch { 0 => 0f, 1 => 1f, _ => 0.5f };
                            float alpha = (m % 2 == 0) ? 1f : -0.75f;
                            yield return GemmCase(width, rng, ta, tb, m, n, k, alpha, beta, pad: (n + k) % 2);
                        }
        // Large enough to run tiled and threaded, with k over two k-blocks.
        yield return GemmCase(width, rng, Transpose.No, Transpose.Yes, 200, 130, 513, 1f, 0f, pad: 3);
        yield return GemmCase(width, rng, Transpose.Yes, Transpose.No, 97, 250, 260, 1f, 1f, pad: 0);
        // A pre-packed right-hand side reused for several products, as the recurrent time loop does.
        foreach (var r in PackedChecks(width, rng)) yield return r;
    }

    private static TwinResult GemmCase(SimdWidth width, Rng rng, Transpose ta, Transpose tb, int m, int n, int k,
        float alpha, float beta, int pad)
    {
        int aRows = ta == Transpose.No ? m : k, aCols = ta == Transpose.No ? k : m;
        int bRows = tb == Transpose.No ? k : n, bCols = tb == Transpose.No ? n : k;
        int lda = aCols + pad, ldb = bCols + pad, ldc = n + pad;
        var a = Random(rng, aRows * lda);
        var b = Random(rng, bRows * ldb);
        var c = Random(rng, m * ldc);
        if (beta == 0f) Array.Fill(c, float.NaN);
        var expected = (float[])c.Clone();
        if (beta == 0f) Array.Fill(expected, 0f);
        GemmReference.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, expected, ldc);
        using (SimdDispatch.Force(width))
            Gemm.Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        double err = MaxScaledError(c, expected, m, n, ldc, k);
        return new TwinResult("sgemm", $"{ta}{tb} m={m} n={n} k={k} alpha={alpha} beta={beta} pad={pad}", width, err, 1.0);
    }

    private static IEnumerable<TwinResult> PackedChecks(SimdWidth width, Rng rng)
    {
        foreach (var (tb, m, n, k) in new[] { (Transpose.Yes, 64, 96, 40), (Transpose.No, 9, 33, 300), (Transpose.Yes, 5, 17, 7) })
        {
            int bRows = tb == Transpose.No ? k : n, bCols = tb == Transpose.No ? n : k;
            var b = Random(rng, bRows * bCols);
            PackedMatrix packed;
            using (SimdDispatch.Force(width)) packed = PackedMatrix.Pack(tb, k, n, b, bCols);
            for (int rep = 0; rep < 2; rep++)
            {
                var a = Random(rng, m * k);
                var c = Random(rng, m * n);
                var expected = (float[])c.Clone();
                GemmReference.Sgemm(Transpose.No, tb, m, n, k, 1f, a, k, b, bCols, 1f, expected, n);
                Gemm.Sgemm(Transpose.No, m, 1f, a, k, packed, 1f, c, n);
                yield return new TwinResult("sgemm-packed", $"{tb} m={m} n={n} k={k} rep={rep}", packed.Width,
                    MaxScaledError(c, expected, m, n, n, k), 1.0);
            }
        }
    }

    /// <summary>Largest |c - ref| over the float32 rounding budget of a length-k dot product (in units of that budget).</summary>
    public static double MaxScaledError(float[] c, float[] expected, int m, int n, int ldc, int k)
    {
        double worst = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double a = c[i * ldc + j], e = expected[i * ldc + j];
                if (!double.IsFinite(a)) return double.PositiveInfinity;
                // Inputs are U(-1, 1): |sum| <= k, so k * 2^-23 * (k+2) bounds the float32 error loosely; use a tight multiple.
                double budget = 4e-7 * (k + 2) * Math.Sqrt(k + 2) + 1e-6 * Math.Abs(e);
                worst = Math.Max(worst, Math.Abs(a - e) / budget);
            }
        return worst;
    }

    // ---------------------------------------------------------------- cell kernels

    public static IEnumerable<TwinResult> CellChecks(SimdWidth width, bool quick = false)
    {
        var rng = new Rng(99);
        IEnumerable<int> hs = quick ? [1, 3, 17, 65] : Enumerable.Range(1, 67).Concat([127, 128, 129, 255, 256, 257]);
        foreach (int h in hs)
        {
            int rows = h % 3 + 1;
            yield return Lstm(width, rng, rows, h, foldBias: h % 2 == 1);
            if (h >= 2) yield return LstmProjected(width, rng, rows + 4 * (h % 2), h, h / 2 + h % 3 % 2);
            yield return Gru(width, rng, rows, h, bias: h % 2 == 0);
            yield return Rnn(width, rng, rows, h, relu: false, foldBias: h % 2 == 1);
            yield return Rnn(width, rng, rows, h, relu: true, foldBias: h % 3 == 0);
        }
    }

    /// <summary>
    /// An LSTM step with a projection (proj_size P) as the engine computes it: forward kernel into m, then h = m W_hr^T
    /// by GEMM; backward dm = dh W_hr by GEMM, the backward kernel on dm, and dW_hr += dh^T m.
    /// </summary>
    private static TwinResult LstmProjected(SimdWidth width, Rng rng, int rows, int h, int p)
    {
        int ldG = 4 * h, ld = h + 1, ldH = p + 2;
        var g = Random(rng, rows * ldG, 3f);
        var cp = Random(rng, rows * ld, 2f);
        var whr = Random(rng, p * h);
        var dh = Random(rng, rows * ldH);
        var dcIn = Random(rng, rows * ld);
        var dWhrIn = Random(rng, p * h);

        var gRef = (float[])g.Clone();
        var cRef = new float[rows * ld]; var tRef = new float[rows * ld]; var mRef = new float[rows * ld]; var hRef = new float[rows * ldH];
        CellReference.LstmForward(rows, h, gRef, ldG, cp, ld, cRef, ld, tRef, ld, mRef, ld);
        CellReference.LstmProjection(rows, h, p, mRef, ld, whr, hRef, ldH);
        var dmRef = new float[rows * ld]; var dWhrRef = (float[])dWhrIn.Clone();
        CellReference.LstmProjectionBackward(rows, h, p, dh, ldH, mRef, ld, whr, dmRef, ld, dWhrRef);
        var dgRef = new float[rows * ldG]; var dcRef = (float[])dcIn.Clone();
        CellReference.LstmBackward(rows, h, gRef, ldG, cp, ld, tRef, ld, dmRef, ld, dcRef, ld, dgRef, ldG);

        var c = new float[rows * ld]; var t = new float[rows * ld]; var m = new float[rows * ld]; var hh = new float[rows * ldH];
        var dm = new float[rows * ld]; var dWhr = (float[])dWhrIn.Clone();
        var dg = new float[rows * ldG]; var dc = (float[])dcIn.Clone();
        fixed (float* pg = g, pcp = cp, pc = c, pt = t, pm = m, ph = hh, pw = whr, pdh = dh, pdm = dm, pdw = dWhr, pdc = dc, pdg = dg)
        {
            new LstmForwardKernel { Width = width, H = h, Gates = pg, LdGates = ldG, CPrev = pcp, LdCPrev = ld, C = pc, LdC = ld, TanhC = pt, LdTanhC = ld, HOut = pm, LdH = ld }.Run(0, rows);
            Gemm.Multiply(width, Transpose.No, Transpose.Yes, rows, p, h, 1f, pm, ld, pw, h, 0f, ph, ldH);
            Gemm.Multiply(width, Transpose.No, Transpose.No, rows, h, p, 1f, pdh, ldH, pw, h, 0f, pdm, ld);
            Gemm.Multiply(width, Transpose.Yes, Transpose.No, p, h, rows, 1f, pdh, ldH, pm, ld, 1f, pdw, h);
            new LstmBackwardKernel { Width = width, H = h, Gates = pg, LdGates = ldG, CPrev = pcp, LdCPrev = ld, TanhC = pt, LdTanhC = ld, DH = pdm, LdDH = ld, DC = pdc, LdDC = ld, DGates = pdg, LdDGates = ldG }.Run(0, rows);
        }
        double err = new[] { Err(g, gRef), Err(c, cRef), Err(m, mRef), Err(hh, hRef), Err(dm, dmRef), Err(dWhr, dWhrRef), Err(dg, dgRef), Err(dc, dcRef) }.Max();
        // The cell kernels' bound (2e-6) plus the GEMM budget of the longest sum (H terms forward, rows terms for dW_hr).
        int k = Math.Max(h, rows);
        return new TwinResult("lstm+projection", $"rows={rows} H={h} P={p}", width, err, 2e-6 + 4e-7 * (k + 2) * Math.Sqrt(k + 2));
    }

    /// <summary>Adds <paramref name="bias"/> (one float add per element, as the folding kernels do) to every row of a twin's input.</summary>
    private static void AddRows(float[] rows, int ld, int count, float[] bias)
    {
        for (int r = 0; r < count; r++)
            for (int j = 0; j < bias.Length; j++) rows[r * ld + j] += bias[j];
    }

    /// <summary>An LSTM step; with <paramref name="foldBias"/> the kernel adds the bias as it reads the gates (the twin gets it pre-added).</summary>
    private static TwinResult Lstm(SimdWidth width, Rng rng, int rows, int h, bool foldBias)
    {
        int ldG = 4 * h + 1, ld = h + 2;
        var g = Random(rng, rows * ldG, 3f);
        var cp = Random(rng, rows * ld, 2f);
        var dh = Random(rng, rows * ld);
        var dcIn = Random(rng, rows * ld);
        var bias = foldBias ? Random(rng, 4 * h) : [];

        var gRef = (float[])g.Clone();
        AddRows(gRef, ldG, rows, bias);
        var cRef = new float[rows * ld]; var tRef = new float[rows * ld]; var hRef = new float[rows * ld];
        CellReference.LstmForward(rows, h, gRef, ldG, cp, ld, cRef, ld, tRef, ld, hRef, ld);
        var dgRef = new float[rows * ldG]; var dcRef = (float[])dcIn.Clone();
        CellReference.LstmBackward(rows, h, gRef, ldG, cp, ld, tRef, ld, dh, ld, dcRef, ld, dgRef, ldG);

        var c = new float[rows * ld]; var t = new float[rows * ld]; var hh = new float[rows * ld];
        var dg = new float[rows * ldG]; var dc = (float[])dcIn.Clone();
        fixed (float* pg = g, pb = bias, pcp = cp, pc = c, pt = t, ph = hh, pdh = dh, pdc = dc, pdg = dg)
        {
            new LstmForwardKernel { Width = width, H = h, Gates = pg, LdGates = ldG, Bias = foldBias ? pb : null, CPrev = pcp, LdCPrev = ld, C = pc, LdC = ld, TanhC = pt, LdTanhC = ld, HOut = ph, LdH = ld }.Run(0, rows);
            new LstmBackwardKernel { Width = width, H = h, Gates = pg, LdGates = ldG, CPrev = pcp, LdCPrev = ld, TanhC = pt, LdTanhC = ld, DH = pdh, LdDH = ld, DC = pdc, LdDC = ld, DGates = pdg, LdDGates = ldG }.Run(0, rows);
        }
        double err = new[] { Err(g, gRef), Err(c, cRef), Err(t, tRef), Err(hh, hRef), Err(dg, dgRef), Err(dc, dcRef) }.Max();
        return new TwinResult("lstm-cell", $"rows={rows} H={h} foldBias={foldBias}", width, err, 2e-6);
    }

    private static TwinResult Gru(SimdWidth width, Rng rng, int rows, int h, bool bias)
    {
        int ld3 = 3 * h + 2, ld = h + 1;
        var gx = Random(rng, rows * ld3, 3f);
        var gh = Random(rng, rows * ld3, 3f);
        var bh = bias ? Random(rng, 3 * h) : [];
        var bi = bias ? Random(rng, 3 * h) : [];
        var hp = Random(rng, rows * ld);
        var dh = Random(rng, rows * ld);

        var gxRef = (float[])gx.Clone();
        AddRows(gxRef, ld3, rows, bi);
        var hnRef = new float[rows * ld]; var hRef = new float[rows * ld];
        CellReference.GruForward(rows, h, gxRef, ld3, gh, ld3, bh, hp, ld, hnRef, ld, hRef, ld);
        var dgxRef = new float[rows * ld3]; var dghRef = new float[rows * ld3]; var dhpRef = new float[rows * ld];
        CellReference.GruBackward(rows, h, gxRef, ld3, hnRef, ld, hp, ld, dh, ld, dgxRef, ld3, dghRef, ld3, dhpRef, ld);

        var hn = new float[rows * ld]; var hh = new float[rows * ld];
        var dgx = new float[rows * ld3]; var dgh = new float[rows * ld3]; var dhp = new float[rows * ld];
        fixed (float* pgx = gx, pgh = gh, pbh = bh, pbi = bi, php = hp, phn = hn, ph = hh, pdh = dh, pdgx = dgx, pdgh = dgh, pdhp = dhp)
        {
            new GruForwardKernel { Width = width, H = h, Gx = pgx, LdGx = ld3, BiasIh = bias ? pbi : null, Gh = pgh, LdGh = ld3, BiasHh = bias ? pbh : null, HPrev = php, LdHPrev = ld, Hn = phn, LdHn = ld, HOut = ph, LdH = ld }.Run(0, rows);
            new GruBackwardKernel { Width = width, H = h, Gates = pgx, LdGates = ld3, Hn = phn, LdHn = ld, HPrev = php, LdHPrev = ld, DH = pdh, LdDH = ld, DGx = pdgx, LdDGx = ld3, DGh = pdgh, LdDGh = ld3, DHPrev = pdhp, LdDHPrev = ld }.Run(0, rows);
        }
        double err = new[] { Err(gx, gxRef), Err(hn, hnRef), Err(hh, hRef), Err(dgx, dgxRef), Err(dgh, dghRef), Err(dhp, dhpRef) }.Max();
        return new TwinResult("gru-cell", $"rows={rows} H={h} bias={bias}", width, err, 2e-6);
    }

    private static TwinResult Rnn(SimdWidth width, Rng rng, int rows, int h, bool relu, bool foldBias)
    {
        int ldG = h + 3, ld = h + 1;
        var g = Random(rng, rows * ldG, 3f);
        var dh = Random(rng, rows * ld);
        var bias = foldBias ? Random(rng, h) : [];
        var gRef = (float[])g.Clone();
        AddRows(gRef, ldG, rows, bias);
        var hRef = new float[rows * ld];
        CellReference.RnnForward(rows, h, relu, gRef, ldG, hRef, ld);
        var dgRef = new float[rows * ldG];
        CellReference.RnnBackward(rows, h, relu, hRef, ld, dh, ld, dgRef, ldG);
        var hh = new float[rows * ld];
        var dg = new float[rows * ldG];
        fixed (float* pg = g, pb = bias, ph = hh, pdh = dh, pdg = dg)
        {
            new RnnForwardKernel { Width = width, H = h, Relu = relu, Gates = pg, LdGates = ldG, Bias = foldBias ? pb : null, HOut = ph, LdH = ld }.Run(0, rows);
            new RnnBackwardKernel { Width = width, H = h, Relu = relu, HOut = ph, LdH = ld, DH = pdh, LdDH = ld, DGates = pdg, LdDGates = ldG }.Run(0, rows);
        }
        return new TwinResult(relu ? "rnn-relu-cell" : "rnn-tanh-cell", $"rows={rows} H={h} foldBias={foldBias}", width, Math.Max(Err(hh, hRef), Err(dg, dgRef)), 2e-6);
    }

    // ---------------------------------------------------------------- activations

    /// <summary>Sigmoid and tanh over a dense sweep, in units of float32 ulps of the exact (float64) result.</summary>
    public static List<TwinResult> ActivationChecks(SimdWidth width)
    {
        var results = new List<TwinResult>();
        const int n = 40_001;
        var x = new float[n];
        for (int i = 0; i < n; i++) x[i] = -20f + 40f * i / (n - 1);
        // Dense near zero too, where tanh switches from its polynomial to the exponential form.
        var near = new float[n];
        for (int i = 0; i < n; i++) near[i] = -0.6f + 1.2f * i / (n - 1);
        foreach (var xs in new[] { x, near })
        {
            int rows = 1, h = xs.Length;
            var hOut = new float[h];
            var gates = (float[])xs.Clone();
            fixed (float* pg = gates, ph = hOut)
                new RnnForwardKernel { Width = width, H = h, Relu = false, Gates = pg, LdGates = h, HOut = ph, LdH = h }.Run(0, rows);
            double worstTanh = 0;
            for (int i = 0; i < h; i++) worstTanh = Math.Max(worstTanh, Ulps(hOut[i], Math.Tanh(xs[i])));
            results.Add(new TwinResult("tanh", $"[{xs[0]}, {xs[^1]}] ulps", width, worstTanh, 4));

            // Sigmoid through the LSTM kernel's i gate with zero elsewhere: h = o * tanh(c) is not needed, i is stored back.
            int hid = h;
            var g4 = new float[4 * hid];
            Array.Copy(xs, g4, hid);
            var zeros = new float[hid]; var c = new float[hid]; var hh = new float[hid];
            fixed (float* pg = g4, pz = zeros, pc = c, ph = hh)
                new LstmForwardKernel { Width = width, H = hid, Gates = pg, LdGates = 4 * hid, CPrev = pz, LdCPrev = hid, C = pc, LdC = hid, TanhC = null, HOut = ph, LdH = hid }.Run(0, 1);
            double worstSig = 0;
            for (int i = 0; i < hid; i++) worstSig = Math.Max(worstSig, Ulps(g4[i], 1 / (1 + Math.Exp(-(double)xs[i]))));
            results.Add(new TwinResult("sigmoid", $"[{xs[0]}, {xs[^1]}] ulps", width, worstSig, 4));
        }
        return results;
    }

    private static double Ulps(float actual, double exact)
    {
        float e = (float)exact;
        double ulp = Math.Max(MathF.BitIncrement(MathF.Abs(e)) - MathF.Abs(e), float.Epsilon);
        return Math.Abs(actual - exact) / ulp;
    }

    private static double Err(float[] actual, float[] expected)
    {
        double worst = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!float.IsFinite(actual[i])) return double.PositiveInfinity;
            worst = Math.Max(worst, Math.Abs(actual[i] - expected[i]) / (1 + Math.Abs(expected[i])));
        }
        return worst;
    }

    private static float[] Random(Rng rng, int n, float scale = 1f)
    {
        var a = new float[n];
        rng.FillUniform(a, -scale, scale);
        return a;
    }
}
