using System.Buffers;
using System.Diagnostics;

namespace Recur.Kernels;

/// <summary>
/// The CTC forward-backward in float32 (Graves et al. 2006, section 4.1), in log space, blank 0, one sequence per
/// parallel row. The scratch (log-probabilities, the alpha table, two beta rows) is rented once per call, so the
/// time loop allocates nothing. Sequences are independent and the batch total is summed afterwards in order, so the
/// result does not depend on the thread count. <see cref="Reference.CtcReference"/> is the float64 twin.
/// </summary>
internal static class CtcKernels
{
    /// <summary>
    /// Each sequence's negative log-likelihood into <paramref name="nll"/> and, when <paramref name="grad"/> is given,
    /// d loss / d logits into it: <c>scale_b * (softmax - gamma)</c> on a sequence's first input-length frames, 0 after
    /// them; for an impossible alignment (nll = +inf) NaN there, or 0 with <paramref name="zeroInfinity"/>.
    /// </summary>
    /// <param name="logits">Scores; frame f of sequence b starts at <c>logitsOffset + f * timeStride + b * batchStride</c>.</param>
    /// <param name="logitsOffset">Offset of frame 0 of sequence 0.</param>
    /// <param name="timeStride">Elements between frames of one sequence.</param>
    /// <param name="batchStride">Elements between sequences at one frame.</param>
    /// <param name="frames">T.</param>
    /// <param name="classes">C, blank (0) included.</param>
    /// <param name="inputLengths">(N) frames of each sequence, in [0, T] (checked by the caller).</param>
    /// <param name="targets">The label sequences concatenated, labels in [1, C) (checked by the caller).</param>
    /// <param name="targetLengths">(N) lengths of the label sequences.</param>
    /// <param name="gradScale">(N) d loss / d nll_b, the reduction's weight of each sequence.</param>
    /// <param name="zeroInfinity">Zero the gradient of impossible alignments instead of NaN.</param>
    /// <param name="nll">(N) receives each sequence's -log p(l | x), +inf when no alignment exists.</param>
    /// <param name="grad">Same layout as <paramref name="logits"/>, or null.</param>
    /// <param name="gradOffset">Offset of frame 0 of sequence 0 in <paramref name="grad"/>.</param>
    public static void LossAndGradient(float[] logits, int logitsOffset, int timeStride, int batchStride, int frames, int classes,
        ReadOnlySpan<int> inputLengths, ReadOnlySpan<int> targets, ReadOnlySpan<int> targetLengths, ReadOnlySpan<float> gradScale,
        bool zeroInfinity, Span<float> nll, float[]? grad, int gradOffset)
    {
        int n = inputLengths.Length;
        Debug.Assert(targetLengths.Length == n && nll.Length >= n && gradScale.Length >= n);
        int maxLabels = 0;
        for (int b = 0; b < n; b++) maxLabels = Math.Max(maxLabels, targetLengths[b]);
        int maxStates = 2 * maxLabels + 1;
        // per sequence: log p (T, C) | alpha (T, S') | beta, two rows (2, S') | gamma row (C)
        long perSequence = (long)frames * classes + (long)frames * maxStates + 2L * maxStates + classes;
        float[] scratch = PinnedPool.Rent(Math.Max(1, perSequence * n));
        float[] losses = PinnedPool.Rent(Math.Max(1, 2L * n));
        int[] ints = ArrayPool<int>.Shared.Rent(3 * n + targets.Length);
        try
        {
            // ints: input lengths | target lengths | target offsets | targets
            int offset = 0;
            for (int b = 0; b < n; b++)
            {
                ints[b] = inputLengths[b];
                ints[n + b] = targetLengths[b];
                ints[2 * n + b] = offset;
                offset += targetLengths[b];
                losses[n + b] = gradScale[b];
            }
            targets.CopyTo(ints.AsSpan(3 * n));
            var kernel = new CtcSequenceKernel
            {
                Logits = logits, LogitsOffset = logitsOffset, TimeStride = timeStride, BatchStride = batchStride,
                Frames = frames, Classes = classes, MaxStates = maxStates, N = n, Ints = ints,
                Scratch = scratch, ScratchStride = perSequence, Losses = losses, ZeroInfinity = zeroInfinity,
                Grad = grad, GradOffset = gradOffset,
            };
            RowJob<CtcSequenceKernel>.Run(kernel, n, (int)Math.Min(int.MaxValue, (long)frames * (classes + 3 * maxStates)));
            losses.AsSpan(0, n).CopyTo(nll);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(ints);
            PinnedPool.Return(losses);
            PinnedPool.Return(scratch);
        }
    }

    /// <summary>log(e^a + e^b + e^c) with -inf for an empty sum (PyTorch's lamax = 0 guard).</summary>
    internal static float LogSumExp3(float a, float b, float c)
    {
        float m = MathF.Max(a, MathF.Max(b, c));
        if (m == float.NegativeInfinity) return m;
        return m + MathF.Log(MathF.Exp(a - m) + MathF.Exp(b - m) + MathF.Exp(c - m));
    }

    /// <summary>One sequence per row: log-softmax, alpha, then beta and the gradient from the last frame down.</summary>
    private struct CtcSequenceKernel : IRowKernel
    {
        public float[] Logits;
        public int LogitsOffset, TimeStride, BatchStride, Frames, Classes, MaxStates, N;
        public int[] Ints;                 // input lengths | target lengths | target offsets | targets
        public float[] Scratch;
        public long ScratchStride;
        public float[] Losses;             // nll (N) | gradient scale (N)
        public bool ZeroInfinity;
        public float[]? Grad;
        public int GradOffset;

        public readonly void Run(int r0, int r1)
        {
            for (int b = r0; b < r1; b++) Sequence(b);
        }

        private readonly void Sequence(int b)
        {
            const float NegInf = float.NegativeInfinity;
            int il = Ints[b], labels = Ints[N + b], c = Classes, sMax = MaxStates, states = 2 * labels + 1;
            ReadOnlySpan<int> label = Ints.AsSpan(3 * N + Ints[2 * N + b], labels);
            var scratch = Scratch.AsSpan().Slice((int)(b * ScratchStride), (int)ScratchStride);
            var logp = scratch[..(Frames * c)];                                // (T, C)
            var alpha = scratch.Slice(Frames * c, Frames * sMax);              // (T, S'max)
            var beta = scratch.Slice(Frames * (c + sMax), 2 * sMax);           // rows f & 1
            var gamma = scratch.Slice(Frames * (c + sMax) + 2 * sMax, c);      // (C)

            // log p[f] = x[f] - max - log sum exp(x[f] - max)
            for (int f = 0; f < il; f++)
            {
                var x = Logits.AsSpan(LogitsOffset + f * TimeStride + b * BatchStride, c);
                var row = logp.Slice(f * c, c);
                float max = TensorPrimitives.Max(x);
                TensorPrimitives.Subtract(x, max, row);
                TensorPrimitives.Exp(row, gamma);
                TensorPrimitives.Subtract(row, MathF.Log(TensorPrimitives.Sum(gamma)), row);
            }

            float nll;
            if (il == 0) nll = labels == 0 ? 0f : float.PositiveInfinity;
            else
            {
                // alpha_0: blank, or the first label; every other state unreachable.
                var a0 = alpha[..states];
                a0.Fill(NegInf);
                a0[0] = logp[0];
                if (labels > 0) a0[1] = logp[label[0]];
                for (int f = 1; f < il; f++)
                {
                    var prev = alpha.Slice((f - 1) * sMax, states);
                    var cur = alpha.Slice(f * sMax, states);
                    var lp = logp.Slice(f * c, c);
                    // s even: blank, from s and s-1; s odd: label l_{s/2}, also from s-2 when l_{s/2} != l_{s/2-1}.
                    cur[0] = prev[0] + lp[0];
                    for (int s = 1; s < states; s++)
                    {
                        int k = s >> 1;
                        bool skip = (s & 1) == 1 && k > 0 && label[k] != label[k - 1];
                        float sum = LogSumExp3(prev[s], prev[s - 1], skip ? prev[s - 2] : NegInf);
                        cur[s] = sum + lp[(s & 1) == 0 ? 0 : label[k]];
                    }
                }
                var last = alpha.Slice((il - 1) * sMax, states);
                nll = -(labels == 0 ? last[0] : LogSumExp3(last[states - 1], last[states - 2], NegInf));
            }
            bool impossible = float.IsPositiveInfinity(nll);
            Losses[b] = impossible && ZeroInfinity ? 0f : nll;
            if (Grad is null) return;

            // Frames past the input length get no gradient.
            for (int f = il; f < Frames; f++) Grad.AsSpan(GradOffset + f * TimeStride + b * BatchStride, c).Clear();
            if (impossible)
            {
                // PyTorch: exp(log(alpha beta) + nll - lp) is exp(-inf + inf) = NaN on every valid frame.
                float fill = ZeroInfinity ? 0f : float.NaN;
                for (int f = 0; f < il; f++) Grad.AsSpan(GradOffset + f * TimeStride + b * BatchStride, c).Fill(fill);
                return;
            }
            float scale = Losses[N + b];
            for (int f = il - 1; f >= 0; f--)
            {
                var lp = logp.Slice(f * c, c);
                var cur = beta.Slice((f & 1) * sMax, states);
                if (f == il - 1)
                {
                    cur.Fill(NegInf);
                    cur[states - 1] = lp[0];
                    if (labels > 0) cur[states - 2] = lp[label[labels - 1]];
                }
                else
                {
                    var next = beta.Slice(((f + 1) & 1) * sMax, states);
                    // mirror of alpha: s from s and s+1, and from s+2 when l'_{s+2} is a different label.
                    for (int s = 0; s < states; s++)
                    {
                        int k = s >> 1;
                        bool skip = (s & 1) == 1 && k + 1 < labels && label[k] != label[k + 1];
                        float sum = LogSumExp3(next[s], s + 1 < states ? next[s + 1] : NegInf, skip ? next[s + 2] : NegInf);
                        cur[s] = sum + lp[(s & 1) == 0 ? 0 : label[k]];
                    }
                }
                // gamma_f(k) = sum_{s: l'_s = k} alpha_f(s) beta_f(s) / (y_k(f) p(l|x)), the occupation of class k.
                var af = alpha.Slice(f * sMax, states);
                gamma.Clear();
                for (int s = 0; s < states; s++)
                {
                    int k = (s & 1) == 0 ? 0 : label[s >> 1];
                    gamma[k] += MathF.Exp(af[s] + cur[s] + nll - lp[k]);
                }
                // d loss / d x_f = scale * (softmax(x_f) - gamma_f)   (log_softmax's backward folded in)
                var g = Grad.AsSpan(GradOffset + f * TimeStride + b * BatchStride, c);
                TensorPrimitives.Exp(lp, g);
                TensorPrimitives.Subtract(g, gamma, g);
                TensorPrimitives.Multiply(g, scale, g);
            }
        }
    }
}
