namespace Recur.Kernels;

/// <summary>A kernel over independent rows: <see cref="Run"/> processes rows [r0, r1).</summary>
internal interface IRowKernel
{
    void Run(int r0, int r1);
}

/// <summary>
/// Runs a row kernel over [0, rows) on <see cref="Parallelism"/>, in chunks, without allocating:
/// one job instance per kernel type and calling thread is reused.
/// </summary>
internal sealed class RowJob<TKernel> : IParallelJob where TKernel : struct, IRowKernel
{
    [ThreadStatic] private static RowJob<TKernel>? cached;

    private TKernel kernel;
    private int rows;
    private int chunk;

    /// <summary>
    /// Runs <paramref name="kernel"/> over all rows. <paramref name="costPerRow"/> is a rough element count per
    /// row; below about 16K elements in all the call stays on the calling thread.
    /// </summary>
    public static void Run(TKernel kernel, int rows, int costPerRow)
    {
        if (rows <= 0) return;
        int threads = Parallelism.ThreadCount;
        if (threads == 1 || rows == 1 || (long)rows * costPerRow < 16 * 1024)
        {
            kernel.Run(0, rows);
            return;
        }
        var job = cached ??= new RowJob<TKernel>();
        job.kernel = kernel;
        job.rows = rows;
        int pieces = Math.Min(rows, 2 * threads);
        job.chunk = (rows + pieces - 1) / pieces;
        Parallelism.For(job, (rows + job.chunk - 1) / job.chunk);
        job.kernel = default;
    }

    public void Execute(int index)
    {
        int r0 = index * chunk;
        kernel.Run(r0, Math.Min(rows, r0 + chunk));
    }
}
