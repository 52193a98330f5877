using System.Buffers;
using System.Diagnostics;
using Recur.Training;

namespace Recur.Distributed;

/// <summary>
/// MPI_COMM_WORLD as the trainer's <see cref="IGradientSynchronizer"/>: sums with MPI_Iallreduce (MPI_SUM, in place)
/// and waits for them by polling MPI_Test against a deadline, since MPI has no timeout of its own; gradient buckets
/// (<see cref="BeginSum"/>) stay pending while the backward pass goes on, advanced by <see cref="Progress"/>. A collective that
/// does not complete in <see cref="Timeout"/> (another rank hung, stopped or lost) ends the whole job with MPI_Abort
/// after a message that names this rank and the collective. Open MPI's reduction algorithms depend only on the number
/// of ranks and the message size, never on timing, and every rank receives the same sum, so runs are reproducible and
/// the ranks' parameters stay identical.
/// </summary>
public sealed unsafe class MpiCommunicator : IGradientSynchronizer, IDisposable
{
    private bool finalized;

    private MpiCommunicator(int rank, int size, TimeSpan timeout, string library)
    {
        Rank = rank;
        Size = size;
        Timeout = timeout;
        Library = library;
    }

    /// <summary>Loads libmpi (<paramref name="libraryPath"/>, or libmpi.so.40 on the loader's path) and initialises MPI.</summary>
    /// <param name="timeout">How long one collective may wait for the other ranks.</param>
    /// <param name="libraryPath">An explicit libmpi path (null: the default names).</param>
    /// <exception cref="MpiUnavailableException">No loadable Open MPI library.</exception>
    public static MpiCommunicator Start(TimeSpan timeout, string? libraryPath = null)
    {
        if (timeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "timeout must be > 0");
        string lib = Mpi.Load(libraryPath);
        int initialized = 0, provided = 0, rank = 0, size = 0;
        Check(Mpi.Initialized(&initialized), "MPI_Initialized");
        if (initialized == 0) Check(Mpi.InitThread(null, null, Mpi.ThreadFunneled, &provided), "MPI_Init_thread");
        Check(Mpi.CommRank(Mpi.CommWorld, &rank), "MPI_Comm_rank");
        Check(Mpi.CommSize(Mpi.CommWorld, &size), "MPI_Comm_size");
        return new MpiCommunicator(rank, size, timeout, lib);
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <summary>The libmpi that was loaded.</summary>
    public string Library { get; }

    /// <summary>How long one collective may wait for the other ranks before the job is aborted.</summary>
    public TimeSpan Timeout { get; set; }

    /// <summary>Time spent waiting in collectives since the start (communication plus waiting for slower ranks).</summary>
    public TimeSpan WaitTime => TimeSpan.FromSeconds((double)waitTicks / Stopwatch.Frequency);

    private long waitTicks;

    /// <inheritdoc/>
    public void Sum(Span<float> values)
    {
        fixed (float* p = values) Reduce(p, values.Length, Mpi.Float, "gradient sum");
    }

    /// <inheritdoc/>
    public void Sum(Span<double> values)
    {
        fixed (double* p = values) Reduce(p, values.Length, Mpi.Double, "sum of losses and counts");
    }

    // Sums begun by BeginSum, oldest first, with their memory pinned until they complete.
    private readonly List<(nint Request, MemoryHandle Pin)> pending = [];

    /// <summary>
    /// Starts an in-place MPI_Iallreduce of <paramref name="values"/> and returns; <see cref="WaitAll"/> completes it.
    /// Open MPI moves data only inside MPI calls when no progress thread runs, so the trainer calls
    /// <see cref="Progress"/> at every point where a layer's backward pass ends.
    /// </summary>
    public void BeginSum(Memory<float> values)
    {
        if (values.IsEmpty) return;
        long start = Stopwatch.GetTimestamp();
        var pin = values.Pin();
        nint request;
        int code = Mpi.Iallreduce(Mpi.InPlace, pin.Pointer, values.Length, Mpi.Float, Mpi.OpSum, Mpi.CommWorld, &request);
        if (code != 0) pin.Dispose();
        Check(code, "MPI_Iallreduce");
        pending.Add((request, pin));
        waitTicks += Stopwatch.GetTimestamp() - start;
    }

    /// <summary>Tests the pending sums in order (MPI_Test, which also advances them) and releases those that completed; never waits.</summary>
    public void Progress()
    {
        if (pending.Count == 0) return;
        long start = Stopwatch.GetTimestamp();
        int done = 0;
        while (done < pending.Count)
        {
            var (request, pin) = pending[done];
            int flag = 0;
            Check(Mpi.Test(&request, &flag, null), "MPI_Test");
            if (flag == 0) break;
            pin.Dispose();
            done++;
        }
        pending.RemoveRange(0, done);
        waitTicks += Stopwatch.GetTimestamp() - start;
    }

    /// <summary>Waits for every pending sum, in order, each under the <see cref="Timeout"/> deadline.</summary>
    public void WaitAll()
    {
        try
        {
            foreach (var (request, _) in pending)
            {
                nint r = request;
                Wait(&r, "gradient sum");
            }
        }
        finally
        {
            foreach (var (_, pin) in pending) pin.Dispose();
            pending.Clear();
        }
    }

    /// <summary>Waits until every rank has reached this call (MPI_Ibarrier, under the same deadline).</summary>
    public void Barrier(string what)
    {
        nint request;
        Check(Mpi.Ibarrier(Mpi.CommWorld, &request), "MPI_Ibarrier");
        Wait(&request, what);
    }

    private void Reduce(void* buffer, int count, nint type, string what)
    {
        if (count == 0) return;
        nint request;
        Check(Mpi.Iallreduce(Mpi.InPlace, buffer, count, type, Mpi.OpSum, Mpi.CommWorld, &request), "MPI_Iallreduce");
        Wait(&request, what);
    }

    /// <summary>Polls the request (MPI progresses inside MPI_Test) until it completes or the deadline passes.</summary>
    private void Wait(nint* request, string what)
    {
        long start = Stopwatch.GetTimestamp(), deadline = start + (long)(Timeout.TotalSeconds * Stopwatch.Frequency);
        int flag = 0;
        for (int polls = 0; ; polls++)
        {
            Check(Mpi.Test(request, &flag, null), "MPI_Test");
            if (flag != 0) break;
            // Spin briefly (a step's sum usually completes within microseconds of the slowest rank's arrival), then give
            // the core away: with more ranks than cores, a spinning rank would slow the one it waits for.
            if (polls < 1000) Thread.SpinWait(20);
            else if (polls < 20000) Thread.Yield();
            else
            {
                long now = Stopwatch.GetTimestamp();
                if (now > deadline)
                    Fail(3, $"the {what} did not complete within {Timeout.TotalSeconds:0.###} s: another rank is hung, stopped or much slower; stopping every rank");
                Thread.Sleep(1);
            }
        }
        waitTicks += Stopwatch.GetTimestamp() - start;
    }

    /// <summary>Prints a message naming this rank to standard error and ends every rank of the job (MPI_Abort).</summary>
    public void Fail(int exitCode, string message)
    {
        Console.Error.WriteLine($"recur: error (rank {Rank} of {Size}): {message}");
        Console.Error.Flush();
        Mpi.Abort(Mpi.CommWorld, exitCode);
        Environment.Exit(exitCode); // MPI_Abort does not return; this is for an MPI that does
    }

    /// <summary>MPI_Finalize: after the last collective, on every rank.</summary>
    public void Dispose()
    {
        if (finalized) return;
        finalized = true;
        Mpi.FinalizeMpi();
    }

    private static void Check(int code, string call)
    {
        // With MPI's default error handler (MPI_ERRORS_ARE_FATAL) a failing call ends the job itself; this is for one that returns.
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}");
    }
}
