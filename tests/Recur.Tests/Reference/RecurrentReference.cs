using Recur.Nn;

namespace Recur.Tests.Reference;

/// <summary>
/// A naive float64 twin of <see cref="Recurrent"/>: one sequence at a time, one step at a time, one unit at a time,
/// written straight from the cell equations (PyTorch's documentation) with backpropagation through time by hand.
/// Time-major (T, B, ...) only. It is the oracle that finite differences check, and that the fast float32 layer is
/// compared against. With <c>proj</c> &gt; 0 (LSTM only) it is PyTorch's LSTM with <c>proj_size</c>: h = W_hr m,
/// m = o * tanh(c), so h (and h0, h_n) have R = proj units and c keeps H.
/// </summary>
public sealed class RecurrentReference
{
    public RecurrentReference(RecurrentMode mode, int inputSize, int hiddenSize, int layers, bool bidirectional, bool bias, int proj = 0)
    {
        Mode = mode; I = inputSize; H = hiddenSize; L = layers; D = bidirectional ? 2 : 1; Bias = bias;
        P = proj; R = proj > 0 ? proj : hiddenSize;
        G = mode switch { RecurrentMode.Lstm => 4, RecurrentMode.Gru => 3, _ => 1 };
    }

    public RecurrentMode Mode { get; }
    public int I { get; }
    public int H { get; }
    /// <summary>Projection units (0: none).</summary>
    public int P { get; }
    /// <summary>Units of h: P with a projection, else H.</summary>
    public int R { get; }
    public int L { get; }
    public int D { get; }
    public int G { get; }
    public bool Bias { get; }

    /// <summary>Parameters by PyTorch name.</summary>
    public Dictionary<string, double[]> Params { get; } = [];

    /// <summary>Variational recurrent-dropout masks, [layer*D+dir] of (B, R), multiplying h_prev in W_hh h_prev; null: none.</summary>
    public double[][]? RecurrentMasks { get; set; }

    private double[]? MaskRow(int k, int b)
    {
        if (RecurrentMasks is null) return null;
        var row = new double[R];
        Array.Copy(RecurrentMasks[k], b * R, row, 0, R);
        return row;
    }

    public static string Suffix(int l, int d) => $"l{l}{(d == 1 ? "_reverse" : "")}";
    public int InSize(int l) => l == 0 ? I : D * R;

    public IEnumerable<(string Name, int Length)> ParameterShapes()
    {
        for (int l = 0; l < L; l++)
            for (int d = 0; d < D; d++)
            {
                string s = Suffix(l, d);
                yield return ($"weight_ih_{s}", G * H * InSize(l));
                yield return ($"weight_hh_{s}", G * H * R);
                if (Bias)
                {
                    yield return ($"bias_ih_{s}", G * H);
                    yield return ($"bias_hh_{s}", G * H);
                }
                if (P > 0) yield return ($"weight_hr_{s}", P * H);
            }
    }

    private static double Sig(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>Saved values of one step of one sequence.</summary>
    public sealed class StepCache
    {
        public double[] X = [], HPrev = [], CPrev = [], Pre = [], Act = [], C = [], Hn = [], H = [], M = [];
    }

    public sealed class Result
    {
        public required double[] Y, Hn, Cn;
        public required StepCache[][][] Caches; // [l*D+d][b][t]
        public required double[][] Inputs;      // [l] (T, B, in)
    }

    /// <summary>Forward over (T, B, I) time-major input.</summary>
    public Result Forward(double[] x, int T, int B, int[] lengths, double[]? h0, double[]? c0)
    {
        var inputs = new double[L][];
        var caches = new StepCache[L * D][][];
        double[] hn = new double[L * D * B * R], cn = new double[L * D * B * H];
        double[] layerIn = x;
        for (int l = 0; l < L; l++)
        {
            inputs[l] = layerIn;
            int inSize = InSize(l);
            var y = new double[T * B * D * R];
            for (int d = 0; d < D; d++)
            {
                int k = l * D + d;
                caches[k] = new StepCache[B][];
                string s = Suffix(l, d);
                double[] wih = Params[$"weight_ih_{s}"], whh = Params[$"weight_hh_{s}"];
                double[]? bih = Bias ? Params[$"bias_ih_{s}"] : null, bhh = Bias ? Params[$"bias_hh_{s}"] : null;
                double[]? whr = P > 0 ? Params[$"weight_hr_{s}"] : null;
                for (int b = 0; b < B; b++)
                {
                    caches[k][b] = new StepCache[T];
                    var h = new double[R];
                    var c = new double[H];
                    if (h0 is not null) Array.Copy(h0, (k * B + b) * R, h, 0, R);
                    if (c0 is not null) Array.Copy(c0, (k * B + b) * H, c, 0, H);
                    int len = lengths[b];
                    for (int n = 0; n < len; n++)
                    {
                        int t = d == 0 ? n : len - 1 - n;
                        var xt = new double[inSize];
                        Array.Copy(layerIn, (t * B + b) * inSize, xt, 0, inSize);
                        var st = Step(xt, h, c, wih, whh, bih, bhh, whr, inSize, MaskRow(k, b));
                        caches[k][b][t] = st;
                        h = st.H;
                        c = st.C;
                        Array.Copy(h, 0, y, (t * B + b) * D * R + d * R, R);
                    }
                    Array.Copy(h, 0, hn, (k * B + b) * R, R);
                    Array.Copy(c, 0, cn, (k * B + b) * H, H);
                }
            }
            layerIn = y;
        }
        return new Result { Y = layerIn, Hn = hn, Cn = cn, Caches = caches, Inputs = inputs };
    }

    private StepCache Step(double[] x, double[] hPrev, double[] cPrev, double[] wih, double[] whh, double[]? bih, double[]? bhh, double[]? whr, int inSize, double[]? mask)
    {
        // Pre-activations split into the input part and the recurrent part (the GRU needs them apart).
        var gi = new double[G * H];
        var gh = new double[G * H];
        for (int r = 0; r < G * H; r++)
        {
            double si = bih?[r] ?? 0, sh = bhh?[r] ?? 0;
            for (int i = 0; i < inSize; i++) si += wih[r * inSize + i] * x[i];
            for (int j = 0; j < R; j++) sh += whh[r * R + j] * hPrev[j] * (mask?[j] ?? 1);
            gi[r] = si;
            gh[r] = sh;
        }
        var st = new StepCache { X = x, HPrev = hPrev, CPrev = cPrev, Pre = new double[G * H], Act = new double[G * H], C = new double[H], Hn = new double[H], H = new double[H] };
        for (int j = 0; j < H; j++)
        {
            switch (Mode)
            {
                case RecurrentMode.RnnTanh:
                case RecurrentMode.RnnRelu:
                {
                    double pre = gi[j] + gh[j];
                    st.Pre[j] = pre;
                    st.H[j] = Mode == RecurrentMode.RnnTanh ? Math.Tanh(pre) : Math.Max(pre, 0);
                    break;
                }
                case RecurrentMode.Lstm:
                {
                    double i = Sig(gi[j] + gh[j]), f = Sig(gi[H + j] + gh[H + j]);
                    double g = Math.Tanh(gi[2 * H + j] + gh[2 * H + j]), o = Sig(gi[3 * H + j] + gh[3 * H + j]);
                    st.Act[j] = i; st.Act[H + j] = f; st.Act[2 * H + j] = g; st.Act[3 * H + j] = o;
                    st.C[j] = f * cPrev[j] + i * g;
                    st.H[j] = o * Math.Tanh(st.C[j]);   // m_t when projecting: h_t = W_hr m_t below
                    break;
                }
                case RecurrentMode.Gru:
                {
                    double r = Sig(gi[j] + gh[j]), z = Sig(gi[H + j] + gh[H + j]);
                    double hn = gh[2 * H + j];
                    double n = Math.Tanh(gi[2 * H + j] + r * hn);
                    st.Act[j] = r; st.Act[H + j] = z; st.Act[2 * H + j] = n;
                    st.Hn[j] = hn;
                    st.H[j] = (1 - z) * n + z * hPrev[j];
                    break;
                }
            }
        }
        if (whr is not null)
        {
            st.M = st.H;
            st.H = new double[P];
            for (int q = 0; q < P; q++)
            {
                double sum = 0;
                for (int j = 0; j < H; j++) sum += whr[q * H + j] * st.M[j];
                st.H[q] = sum;
            }
        }
        return st;
    }

    public sealed class Gradients
    {
        public required double[] X, H0, C0;
        public required Dictionary<string, double[]> Params;
    }

    /// <summary>Backpropagation through time for dL/dy, dL/dh_n, dL/dc_n (any may be null).</summary>
    public Gradients Backward(Result fwd, int T, int B, int[] lengths, double[]? dy, double[]? dhn, double[]? dcn, double[]? flowSquares = null)
    {
        var grads = ParameterShapes().ToDictionary(p => p.Name, p => new double[p.Length]);
        var dh0 = new double[L * D * B * R];
        var dc0 = new double[L * D * B * H];
        double[] dLayerOut = dy ?? new double[T * B * D * R];
        double[] dX = [];
        for (int l = L - 1; l >= 0; l--)
        {
            int inSize = InSize(l);
            dX = new double[T * B * inSize];
            for (int d = 0; d < D; d++)
            {
                int k = l * D + d;
                string s = Suffix(l, d);
                double[] wih = Params[$"weight_ih_{s}"], whh = Params[$"weight_hh_{s}"];
                double[] gWih = grads[$"weight_ih_{s}"], gWhh = grads[$"weight_hh_{s}"];
                double[]? gBih = Bias ? grads[$"bias_ih_{s}"] : null, gBhh = Bias ? grads[$"bias_hh_{s}"] : null;
                double[]? whr = P > 0 ? Params[$"weight_hr_{s}"] : null, gWhr = P > 0 ? grads[$"weight_hr_{s}"] : null;
                for (int b = 0; b < B; b++)
                {
                    var dh = new double[R];
                    var dc = new double[H];
                    if (dhn is not null) Array.Copy(dhn, (k * B + b) * R, dh, 0, R);
                    if (dcn is not null && Mode == RecurrentMode.Lstm) Array.Copy(dcn, (k * B + b) * H, dc, 0, H);
                    int len = lengths[b];
                    for (int n = len - 1; n >= 0; n--)
                    {
                        int t = d == 0 ? n : len - 1 - n;
                        var st = fwd.Caches[k][b][t];
                        var mask = MaskRow(k, b);
                        for (int j = 0; j < R; j++) dh[j] += dLayerOut[(t * B + b) * D * R + d * R + j];
                        if (flowSquares is not null && k == 0)
                            for (int j = 0; j < R; j++) flowSquares[t] += dh[j] * dh[j];
                        var dhs = dh;   // dL/dh_t; with a projection, the cell sees dL/dm_t = W_hr^T dh_t
                        if (whr is not null)
                        {
                            dh = new double[H];
                            for (int q = 0; q < P; q++)
                                for (int j = 0; j < H; j++)
                                {
                                    dh[j] += whr[q * H + j] * dhs[q];
                                    gWhr![q * H + j] += dhs[q] * st.M[j];
                                }
                        }
                        // Gradients of the input-side and recurrent-side pre-activations.
                        var dgi = new double[G * H];
                        var dgh = new double[G * H];
                        var dhPrev = new double[R];
                        var dcPrev = new double[H];
                        for (int j = 0; j < H; j++)
                        {
                            switch (Mode)
                            {
                                case RecurrentMode.RnnTanh:
                                    dgi[j] = dgh[j] = dh[j] * (1 - st.H[j] * st.H[j]);
                                    break;
                                case RecurrentMode.RnnRelu:
                                    dgi[j] = dgh[j] = st.Pre[j] > 0 ? dh[j] : 0;
                                    break;
                                case RecurrentMode.Lstm:
                                {
                                    double i = st.Act[j], f = st.Act[H + j], g = st.Act[2 * H + j], o = st.Act[3 * H + j];
                                    double tc = Math.Tanh(st.C[j]);
                                    double dct = dc[j] + dh[j] * o * (1 - tc * tc);
                                    dgi[j] = dct * g * i * (1 - i);
                                    dgi[H + j] = dct * st.CPrev[j] * f * (1 - f);
                                    dgi[2 * H + j] = dct * i * (1 - g * g);
                                    dgi[3 * H + j] = dh[j] * tc * o * (1 - o);
                                    for (int q = 0; q < 4; q++) dgh[q * H + j] = dgi[q * H + j];
                                    dcPrev[j] = dct * f;
                                    break;
                                }
                                case RecurrentMode.Gru:
                                {
                                    double r = st.Act[j], z = st.Act[H + j], nn = st.Act[2 * H + j];
                                    double dn = dh[j] * (1 - z) * (1 - nn * nn);
                                    double dz = dh[j] * (st.HPrev[j] - nn) * z * (1 - z);
                                    double dr = dn * st.Hn[j] * r * (1 - r);
                                    dgi[j] = dr; dgi[H + j] = dz; dgi[2 * H + j] = dn;
                                    dgh[j] = dr; dgh[H + j] = dz; dgh[2 * H + j] = dn * r;
                                    dhPrev[j] = dh[j] * z;
                                    break;
                                }
                            }
                        }
                        for (int r = 0; r < G * H; r++)
                        {
                            for (int i = 0; i < inSize; i++)
                            {
                                gWih[r * inSize + i] += dgi[r] * st.X[i];
                                dX[(t * B + b) * inSize + i] += dgi[r] * wih[r * inSize + i];
                            }
                            for (int j = 0; j < R; j++)
                            {
                                double m = mask?[j] ?? 1;
                                gWhh[r * R + j] += dgh[r] * st.HPrev[j] * m;
                                dhPrev[j] += dgh[r] * whh[r * R + j] * m;
                            }
                            if (gBih is not null) { gBih[r] += dgi[r]; gBhh![r] += dgh[r]; }
                        }
                        dh = dhPrev;
                        dc = dcPrev;
                    }
                    Array.Copy(dh, 0, dh0, (k * B + b) * R, R);
                    Array.Copy(dc, 0, dc0, (k * B + b) * H, H);
                }
            }
            dLayerOut = dX;
        }
        return new Gradients { X = dX, H0 = dh0, C0 = dc0, Params = grads };
    }
}
