namespace Recur.Kernels.Reference;

/// <summary>
/// Naive twins of the fused cell kernels: one element at a time, in float64, with <see cref="Math.Tanh"/> and
/// <see cref="Math.Exp"/>. Same buffer conventions as the fast kernels (row-major with leading dimensions).
/// </summary>
public static class CellReference
{
    private static double Sigmoid(double x) => 1.0 / (1.0 + Math.Exp(-x));

    /// <summary>Twin of the LSTM forward kernel: gates pre-activations in, activations out; c, tanh(c), h out.</summary>
    public static void LstmForward(int rows, int h, Span<float> gates, int ldGates, ReadOnlySpan<float> cPrev, int ldCPrev,
        Span<float> c, int ldC, Span<float> tanhC, int ldTanhC, Span<float> hOut, int ldH)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < h; j++)
            {
                int g0 = r * ldGates + j;
                double i = Sigmoid(gates[g0]);
                double f = Sigmoid(gates[g0 + h]);
                double g = Math.Tanh(gates[g0 + 2 * h]);
                double o = Sigmoid(gates[g0 + 3 * h]);
                double cn = f * cPrev[r * ldCPrev + j] + i * g;
                double t = Math.Tanh(cn);
                gates[g0] = (float)i;
                gates[g0 + h] = (float)f;
                gates[g0 + 2 * h] = (float)g;
                gates[g0 + 3 * h] = (float)o;
                c[r * ldC + j] = (float)cn;
                tanhC[r * ldTanhC + j] = (float)t;
                hOut[r * ldH + j] = (float)(o * t);
            }
        }
    }

    /// <summary>Twin of the LSTM backward kernel.</summary>
    public static void LstmBackward(int rows, int h, ReadOnlySpan<float> gates, int ldGates, ReadOnlySpan<float> cPrev, int ldCPrev,
        ReadOnlySpan<float> tanhC, int ldTanhC, ReadOnlySpan<float> dh, int ldDh, Span<float> dc, int ldDc, Span<float> dGates, int ldDGates)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < h; j++)
            {
                int g0 = r * ldGates + j;
                double i = gates[g0], f = gates[g0 + h], g = gates[g0 + 2 * h], o = gates[g0 + 3 * h];
                double t = tanhC[r * ldTanhC + j];
                double dhv = dh[r * ldDh + j];
                double dct = dc[r * ldDc + j] + dhv * o * (1 - t * t);
                int d0 = r * ldDGates + j;
                dGates[d0] = (float)(dct * g * i * (1 - i));
                dGates[d0 + h] = (float)(dct * cPrev[r * ldCPrev + j] * f * (1 - f));
                dGates[d0 + 2 * h] = (float)(dct * i * (1 - g * g));
                dGates[d0 + 3 * h] = (float)(dhv * t * o * (1 - o));
                dc[r * ldDc + j] = (float)(dct * f);
            }
        }
    }

    /// <summary>
    /// Twin of the LSTM projection (LSTMP, PyTorch's proj_size) that follows the forward kernel: h = m W_hr^T, with m
    /// the kernel's o * tanh(c) (rows, H) and W_hr (P, H).
    /// </summary>
    public static void LstmProjection(int rows, int h, int p, ReadOnlySpan<float> m, int ldM, ReadOnlySpan<float> whr, Span<float> hOut, int ldH)
    {
        for (int r = 0; r < rows; r++)
            for (int q = 0; q < p; q++)
            {
                double sum = 0;
                for (int j = 0; j < h; j++) sum += (double)m[r * ldM + j] * whr[q * h + j];
                hOut[r * ldH + q] = (float)sum;
            }
    }

    /// <summary>
    /// Twin of the projection's backward: dm = dh W_hr (rows, H), the gradient the LSTM backward kernel then reads as
    /// its dh, and dW_hr += dh^T m.
    /// </summary>
    public static void LstmProjectionBackward(int rows, int h, int p, ReadOnlySpan<float> dh, int ldDh, ReadOnlySpan<float> m, int ldM,
        ReadOnlySpan<float> whr, Span<float> dm, int ldDm, Span<float> dWhr)
    {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < h; j++)
            {
                double sum = 0;
                for (int q = 0; q < p; q++) sum += (double)dh[r * ldDh + q] * whr[q * h + j];
                dm[r * ldDm + j] = (float)sum;
            }
        for (int q = 0; q < p; q++)
            for (int j = 0; j < h; j++)
            {
                double sum = dWhr[q * h + j];
                for (int r = 0; r < rows; r++) sum += (double)dh[r * ldDh + q] * m[r * ldM + j];
                dWhr[q * h + j] = (float)sum;
            }
    }

    /// <summary>Twin of the GRU forward kernel. <paramref name="biasHh"/> may be empty (no bias).</summary>
    public static void GruForward(int rows, int h, Span<float> gx, int ldGx, ReadOnlySpan<float> gh, int ldGh, ReadOnlySpan<float> biasHh,
        ReadOnlySpan<float> hPrev, int ldHPrev, Span<float> hn, int ldHn, Span<float> hOut, int ldH)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < h; j++)
            {
                double br = biasHh.IsEmpty ? 0 : biasHh[j];
                double bz = biasHh.IsEmpty ? 0 : biasHh[h + j];
                double bn = biasHh.IsEmpty ? 0 : biasHh[2 * h + j];
                int x0 = r * ldGx + j, h0 = r * ldGh + j;
                double rr = Sigmoid(gx[x0] + (gh[h0] + br));
                double z = Sigmoid(gx[x0 + h] + (gh[h0 + h] + bz));
                double hh = gh[h0 + 2 * h] + bn;
                double n = Math.Tanh(gx[x0 + 2 * h] + rr * hh);
                double prev = hPrev[r * ldHPrev + j];
                gx[x0] = (float)rr;
                gx[x0 + h] = (float)z;
                gx[x0 + 2 * h] = (float)n;
                hn[r * ldHn + j] = (float)hh;
                hOut[r * ldH + j] = (float)((1 - z) * n + z * prev);
            }
        }
    }

    /// <summary>Twin of the GRU backward kernel.</summary>
    public static void GruBackward(int rows, int h, ReadOnlySpan<float> gates, int ldGates, ReadOnlySpan<float> hn, int ldHn,
        ReadOnlySpan<float> hPrev, int ldHPrev, ReadOnlySpan<float> dh, int ldDh,
        Span<float> dGx, int ldDGx, Span<float> dGh, int ldDGh, Span<float> dhPrev, int ldDhPrev)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < h; j++)
            {
                int g0 = r * ldGates + j;
                double rr = gates[g0], z = gates[g0 + h], n = gates[g0 + 2 * h];
                double d = dh[r * ldDh + j];
                double dnPre = d * (1 - z) * (1 - n * n);
                double dzPre = d * (hPrev[r * ldHPrev + j] - n) * z * (1 - z);
                double drPre = dnPre * hn[r * ldHn + j] * rr * (1 - rr);
                int x0 = r * ldDGx + j, y0 = r * ldDGh + j;
                dGx[x0] = (float)drPre;
                dGx[x0 + h] = (float)dzPre;
                dGx[x0 + 2 * h] = (float)dnPre;
                dGh[y0] = (float)drPre;
                dGh[y0 + h] = (float)dzPre;
                dGh[y0 + 2 * h] = (float)(dnPre * rr);
                dhPrev[r * ldDhPrev + j] = (float)(d * z);
            }
        }
    }

    /// <summary>Twin of the RNN forward kernel.</summary>
    public static void RnnForward(int rows, int h, bool relu, ReadOnlySpan<float> gates, int ldGates, Span<float> hOut, int ldH)
    {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < h; j++)
            {
                double x = gates[r * ldGates + j];
                hOut[r * ldH + j] = (float)(relu ? Math.Max(x, 0) : Math.Tanh(x));
            }
    }

    /// <summary>Twin of the RNN backward kernel.</summary>
    public static void RnnBackward(int rows, int h, bool relu, ReadOnlySpan<float> hOut, int ldH, ReadOnlySpan<float> dh, int ldDh,
        Span<float> dGates, int ldDGates)
    {
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < h; j++)
            {
                double y = hOut[r * ldH + j];
                double d = dh[r * ldDh + j];
                dGates[r * ldDGates + j] = (float)(relu ? (y > 0 ? d : 0) : d * (1 - y * y));
            }
    }
}
