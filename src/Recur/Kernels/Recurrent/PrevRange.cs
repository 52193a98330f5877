namespace Recur.Kernels.Recurrent;

/// <summary>Rows [R0, R1) whose previous h (and c) start at the given pointers, row r at pointer + (r - R0) * ld.</summary>
/// <remarks><see cref="Clip"/> cuts a step's ranges to a block of rows, for running blocks in parallel.</remarks>
internal readonly unsafe struct PrevRange(int r0, int r1, float* h, int ldH, float* c, int ldC, bool hZero, bool cZero, int fullRows = -1)
{
    public readonly int R0 = r0, R1 = r1;
    /// <summary>
    /// Rows of the whole range before <see cref="Clip"/> cut it to a block. Kernels choose their product path by
    /// this, never by the block's rows, so how a step is cut into blocks (which depends on the thread count) does
    /// not change how any element is summed.
    /// </summary>
    public readonly int FullRows = fullRows < 0 ? r1 - r0 : fullRows;
    public readonly float* H = h;
    public readonly int LdH = ldH;
    public readonly float* C = c;
    public readonly int LdC = ldC;
    /// <summary>The previous h is all zeros (h0 not given), so h W_hh^T is zero.</summary>
    public readonly bool HZero = hZero;
    /// <summary>The previous c is all zeros.</summary>
    public readonly bool CZero = cZero;

    /// <summary>The parts of <paramref name="ranges"/> inside rows [r0, r1), with their pointers moved along.</summary>
    public static int Clip(ReadOnlySpan<PrevRange> ranges, int r0, int r1, Span<PrevRange> clipped)
    {
        int n = 0;
        foreach (var r in ranges)
        {
            int a = Math.Max(r.R0, r0), b = Math.Min(r.R1, r1);
            if (a >= b) continue;
            long skip = a - r.R0;
            clipped[n++] = new PrevRange(a, b, r.H + skip * r.LdH, r.LdH, r.C == null ? null : r.C + skip * r.LdC, r.LdC, r.HZero, r.CZero, r.FullRows);
        }
        return n;
    }
}
