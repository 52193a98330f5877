namespace Recur.Kernels.Recurrent;

/// <summary>
/// The time loop of one layer and direction, forward or backward (BPTT), with each thread owning a fixed block of rows
/// (sequences) for all steps (<see cref="RecurrentStepSchedule.BatchParallel"/>, ONNX Runtime's DeepCPU LSTM): one
/// dispatch per layer and direction, no barrier between steps. Rows are sorted by length, so a block's running rows at
/// step t are its rows below Active[t]; they shrink as sequences end. Blocks are cut so that each holds about the same
/// number of running (row, step) pairs. The backward pass walks the steps in the opposite order to the forward one.
/// </summary>
/// <remarks>
/// A block runs the cell's own step over its part of each step's ranges (<see cref="PrevRange.Clip"/>), which keeps
/// each range's whole row count; the backward product goes by the whole step's running rows (Active[t]). The product
/// path (packed or skinny) is chosen by those, as in the per-step engine, so results do not depend on the blocking or
/// the thread count. Every buffer a step writes is row-local (the pass's gates, states and gradients, and the (B, ...)
/// scratch rows DH, DC, DM and MaskedPrev), so blocks never share data. Kernels called from inside a block run on its
/// thread (<see cref="Parallelism"/> runs nested calls inline).
/// </remarks>
internal sealed class BatchParallelPass : IParallelJob
{
    [ThreadStatic] private static BatchParallelPass? cached;

    private RecurrentCell cell = null!;
    private DirectionPass pass = null!;
    private int[] bounds = [];
    private bool backward;

    /// <summary>
    /// Runs every step of <paramref name="p"/> forward in <paramref name="blocks"/> row blocks; <paramref name="sortedLengths"/>
    /// are the rows' lengths (descending), which balance the blocks.
    /// </summary>
    public static void Forward(RecurrentCell cell, DirectionPass p, ReadOnlySpan<int> sortedLengths, int blocks) =>
        Run(cell, p, sortedLengths, blocks, backward: false);

    /// <summary>
    /// Runs the backward of every step of <paramref name="p"/> (last step first in the pass's own direction) in
    /// <paramref name="blocks"/> row blocks, cut as <see cref="Forward"/> cuts them. On entry DH (and DC) hold the
    /// gradients reaching the last step; on exit DGates (and DGatesH) hold every step's gate gradients and DH (and DC)
    /// those of the initial state.
    /// </summary>
    public static void Backward(RecurrentCell cell, DirectionPass p, ReadOnlySpan<int> sortedLengths, int blocks) =>
        Run(cell, p, sortedLengths, blocks, backward: true);

    private static void Run(RecurrentCell cell, DirectionPass p, ReadOnlySpan<int> sortedLengths, int blocks, bool backward)
    {
        var job = cached ??= new BatchParallelPass();
        job.cell = cell;
        job.pass = p;
        job.backward = backward;
        if (job.bounds.Length < blocks + 1) job.bounds = new int[blocks + 1];
        int rows = p.Active.Length > 0 ? p.Active.Max() : 0;
        Cut(sortedLengths[..rows], blocks, job.bounds);
        try
        {
            Parallelism.For(job, blocks);
        }
        finally
        {
            job.cell = null!;
            job.pass = null!;
        }
    }

    /// <summary>
    /// Cuts rows [0, lengths.Length) into <paramref name="blocks"/> contiguous blocks (bounds[i], bounds[i+1]) of about
    /// equal total length, each non-empty when there are enough rows.
    /// </summary>
    internal static void Cut(ReadOnlySpan<int> lengths, int blocks, Span<int> bounds)
    {
        long total = 0;
        foreach (int len in lengths) total += len;
        int rows = lengths.Length;
        bounds[0] = 0;
        int r = 0;
        long sum = 0;
        for (int i = 1; i < blocks; i++)
        {
            long target = total * i / blocks;
            // At least one row per block while rows remain for the blocks after it.
            while (r < rows - (blocks - i) && (sum < target || r <= bounds[i - 1])) sum += lengths[r++];
            bounds[i] = r;
        }
        bounds[blocks] = rows;
    }

    public void Execute(int index)
    {
        int r0 = bounds[index], r1 = bounds[index + 1];
        if (r0 >= r1) return;
        var p = pass;
        Span<PrevRange> ranges = stackalloc PrevRange[2];
        Span<PrevRange> clipped = stackalloc PrevRange[2];
        // Forward runs t = 0..T-1 (the reverse direction T-1..0); backward the other way round.
        bool descending = p.Reverse != backward;
        for (int s = 0; s < p.T; s++)
        {
            int t = descending ? p.T - 1 - s : s;
            int end = Math.Min(r1, p.Active[t]);
            if (end <= r0) continue;
            int n = p.PrevRanges(t, ranges);
            int m = PrevRange.Clip(ranges[..n], r0, end, clipped);
            // Backward: the cell's kernel adds the output's gradient dY[t] to dh row by row (in this block's rows).
            if (backward) cell.Backward(p, t, clipped[..m]);
            else cell.Forward(p, t, clipped[..m]);
        }
    }
}
