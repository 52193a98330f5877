namespace Recur.Kernels.Recurrent;

/// <summary>
/// Runs one time step of a cell, forward or backward, with the running rows cut into blocks that the worker pool
/// processes in parallel: each block does its own slice of h W_hh^T (or dG W_hh) and then its gate kernel, so a
/// step needs one dispatch and no barrier between the product and the gates. Rows are independent, so the result
/// does not depend on the blocking. Reused across steps: no allocation per step.
/// </summary>
internal sealed class StepJob : IParallelJob
{
    private readonly PrevRange[] ranges = new PrevRange[2];
    private int rangeCount;
    private RecurrentCell cell = null!;
    private DirectionPass pass = null!;
    private int t;
    private bool backward;
    private int rowsPerBlock;
    private int end;

    /// <summary>Below this many multiply-adds in the step's product, one thread does the whole step.</summary>
    private const double ParallelWork = 1 << 20;

    /// <summary>
    /// Step t of pass <paramref name="p"/> over the rows <paramref name="prev"/> covers. Steps of more than
    /// <paramref name="fusedMax"/> multiply-adds run as one block with internally parallel kernels
    /// (<see cref="RecurrentEngineOptions.FusedMax"/>).
    /// </summary>
    public void Run(RecurrentCell stepCell, DirectionPass p, int step, bool isBackward, ReadOnlySpan<PrevRange> prev, double fusedMax)
    {
        int start = prev[0].R0;
        end = prev[^1].R1;
        int rows = end - start;
        double work = (double)rows * p.H * (p.G * p.R + (p.Projected ? p.R : 0));
        int threads = Parallelism.ThreadCount;
        // Small and medium steps: parallel row blocks, each doing its product and gates (one dispatch per step).
        // Large steps: one block whose product and gate kernel parallelise internally (by column tiles), which
        // reads W_hh once in all instead of once per block and has fewer partial micro-kernel tiles.
        int blocks = work < ParallelWork || work > fusedMax || threads == 1 ? 1 : Math.Min(threads, (rows + Gemm.MR - 1) / Gemm.MR);
        if (blocks <= 1)
        {
            Step(stepCell, p, step, isBackward, prev);
            return;
        }
        cell = stepCell;
        pass = p;
        t = step;
        backward = isBackward;
        prev.CopyTo(ranges);
        rangeCount = prev.Length;
        rowsPerBlock = (rows + blocks - 1) / blocks;
        Parallelism.For(this, blocks);
        cell = null!;
        pass = null!;
    }

    public void Execute(int index)
    {
        int r0 = ranges[0].R0 + index * rowsPerBlock;
        int r1 = Math.Min(end, r0 + rowsPerBlock);
        if (r0 >= r1) return;
        Span<PrevRange> clipped = stackalloc PrevRange[2];
        int n = PrevRange.Clip(ranges.AsSpan(0, rangeCount), r0, r1, clipped);
        Step(cell, pass, t, backward, clipped[..n]);
    }

    private static void Step(RecurrentCell cell, DirectionPass p, int t, bool backward, ReadOnlySpan<PrevRange> prev)
    {
        // Backward: the cell's kernel adds the output's gradient dY[t] to dh row by row (in this block's rows).
        if (backward) cell.Backward(p, t, prev);
        else cell.Forward(p, t, prev);
    }
}
