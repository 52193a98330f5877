namespace Recur.Kernels.Reference;

/// <summary>
/// The naive float64 twin of the CTC loss (<see cref="CtcKernels"/>, behind <c>Nn.CtcLoss</c>), written from
/// Graves et al. 2006 section 4.1: full alpha and beta tables in log space, the gradient by the chain rule through
/// the log-softmax. Tests compare the fast float32 kernel and PyTorch's golden cases against it; it is never used for
/// real work, and it allocates freely.
/// </summary>
public static class CtcReference
{
    /// <summary>
    /// The reduced CTC loss of <paramref name="logits"/> (T, N, C), time first, blank 0, as
    /// <c>ctc_loss(log_softmax(logits, 2), ...)</c> in PyTorch 1.13.
    /// </summary>
    /// <param name="logits">(T, N, C) unnormalised scores, row-major.</param>
    /// <param name="t">T, frames.</param>
    /// <param name="n">N, sequences.</param>
    /// <param name="c">C, classes including the blank.</param>
    /// <param name="inputLengths">(N) frames of each sequence, in [0, T].</param>
    /// <param name="targets">One label sequence per sequence, labels in [1, C).</param>
    /// <param name="mean">true: each sequence's loss over max(1, its target length), then the mean over N; false: the sum.</param>
    /// <param name="zeroInfinity">An impossible alignment gives loss 0 and gradient 0 instead of inf and NaN.</param>
    /// <param name="dLogits">(T, N, C), or empty: receives d loss / d logits.</param>
    /// <param name="sequenceLosses">(N), or empty: receives each sequence's negative log-likelihood (0 for an
    /// impossible one with <paramref name="zeroInfinity"/>).</param>
    public static double Loss(ReadOnlySpan<double> logits, int t, int n, int c, ReadOnlySpan<int> inputLengths,
        IReadOnlyList<int[]> targets, bool mean, bool zeroInfinity, Span<double> dLogits = default, Span<double> sequenceLosses = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        if (logits.Length != t * n * c) throw new ArgumentException($"logits must hold T*N*C = {t * n * c} values, got {logits.Length}", nameof(logits));
        if (inputLengths.Length != n || targets.Count != n) throw new ArgumentException($"need {n} input lengths and targets");
        bool grad = !dLogits.IsEmpty;
        if (grad)
        {
            if (dLogits.Length != logits.Length) throw new ArgumentException("dLogits must be as long as logits", nameof(dLogits));
            dLogits.Clear();
        }
        double total = 0;
        for (int b = 0; b < n; b++)
        {
            int il = inputLengths[b];
            int[] label = targets[b];
            // log p[f, k] = logits[f, b, k] - log sum_j exp(logits[f, b, j])
            var lp = new double[il, c];
            for (int f = 0; f < il; f++)
            {
                double m = double.NegativeInfinity;
                for (int k = 0; k < c; k++) m = Math.Max(m, logits[(f * n + b) * c + k]);
                double s = 0;
                for (int k = 0; k < c; k++) s += Math.Exp(logits[(f * n + b) * c + k] - m);
                for (int k = 0; k < c; k++) lp[f, k] = logits[(f * n + b) * c + k] - m - Math.Log(s);
            }
            // l' = blank, l1, blank, l2, ..., lL, blank
            int states = 2 * label.Length + 1;
            var ext = new int[states];
            for (int s = 0; s < label.Length; s++) ext[2 * s + 1] = label[s];

            double nll;
            var alpha = Table(il, states);
            var beta = Table(il, states);
            if (il == 0) nll = label.Length == 0 ? 0 : double.PositiveInfinity;
            else
            {
                // Graves eq. 6-7: alpha_1(1) = y_blank, alpha_1(2) = y_l1; alpha_t(s) = (alpha_{t-1}(s) + alpha_{t-1}(s-1)
                // [+ alpha_{t-1}(s-2) when l'_s is not blank and differs from l'_{s-2}]) y_{l'_s}.
                alpha[0, 0] = lp[0, 0];
                if (states > 1) alpha[0, 1] = lp[0, ext[1]];
                for (int f = 1; f < il; f++)
                    for (int s = 0; s < states; s++)
                    {
                        double sum = alpha[f - 1, s];
                        if (s >= 1) sum = LogAdd(sum, alpha[f - 1, s - 1]);
                        if (s >= 2 && ext[s] != ext[s - 2]) sum = LogAdd(sum, alpha[f - 1, s - 2]);
                        alpha[f, s] = sum + lp[f, ext[s]];
                    }
                // eq. 8: p(l|x) = alpha_T(|l'|) + alpha_T(|l'| - 1)
                double ll = alpha[il - 1, states - 1];
                if (states > 1) ll = LogAdd(ll, alpha[il - 1, states - 2]);
                nll = -ll;

                // eq. 10-11, with beta_t(s) including y_{l'_s} at t as alpha does.
                beta[il - 1, states - 1] = lp[il - 1, 0];
                if (states > 1) beta[il - 1, states - 2] = lp[il - 1, ext[states - 2]];
                for (int f = il - 2; f >= 0; f--)
                    for (int s = 0; s < states; s++)
                    {
                        double sum = beta[f + 1, s];
                        if (s + 1 < states) sum = LogAdd(sum, beta[f + 1, s + 1]);
                        if (s + 2 < states && ext[s] != ext[s + 2]) sum = LogAdd(sum, beta[f + 1, s + 2]);
                        beta[f, s] = sum + lp[f, ext[s]];
                    }
            }

            bool impossible = double.IsPositiveInfinity(nll);
            if (impossible && zeroInfinity) nll = 0;
            double weight = mean ? 1.0 / (Math.Max(1, label.Length) * (double)n) : 1.0;
            total += nll * (mean ? 1.0 / Math.Max(1, label.Length) : 1.0);
            if (!sequenceLosses.IsEmpty) sequenceLosses[b] = nll;
            if (!grad || (impossible && zeroInfinity)) continue;

            for (int f = 0; f < il; f++)
            {
                // eq. 16 in log-probability form: d nll / d log y_k(t) = -(1 / p(l|x)) sum_{s: l'_s = k} alpha_t(s) beta_t(s) / y_k(t)
                var g = new double[c];
                for (int s = 0; s < states; s++)
                    g[ext[s]] -= Math.Exp(alpha[f, s] + beta[f, s] + nll - lp[f, ext[s]]);
                // through log_softmax: d/dx_j = g_j - softmax_j * sum_k g_k
                double gs = 0;
                for (int k = 0; k < c; k++) gs += g[k];
                for (int k = 0; k < c; k++) dLogits[(f * n + b) * c + k] = weight * (g[k] - Math.Exp(lp[f, k]) * gs);
            }
        }
        return mean ? total / n : total;
    }

    private static double[,] Table(int rows, int cols)
    {
        var a = new double[rows, cols];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) a[i, j] = double.NegativeInfinity;
        return a;
    }

    private static double LogAdd(double a, double b)
    {
        double m = Math.Max(a, b);
        return double.IsNegativeInfinity(m) ? m : m + Math.Log(Math.Exp(a - m) + Math.Exp(b - m));
    }
}
