using System.Globalization;
using System.Runtime.CompilerServices;

namespace Recur.Cli.Train;

/// <summary>
/// Data-parallel <c>recur train</c> under <c>mpirun</c> or <c>srun</c>: detects the launch, starts MPI through
/// Recur.Distributed (loaded only here, only then), and splits each global batch between the ranks. Rank 0 alone
/// writes the run folder and prints; the other ranks print only errors.
/// </summary>
internal static class DataParallel
{
    /// <summary>The tasks whose batches are split across ranks; others refuse a launch with more than one rank.</summary>
    public static readonly string[] Tasks = ["classify", "lm"];

    /// <summary>The world size the launcher announced (Open MPI's mpirun, a PMI or PMIx launcher such as Slurm's srun); 1 when not launched.</summary>
    public static int LaunchedSize
    {
        get
        {
            foreach (var name in new[] { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE" })
                if (Count(name) is { } n) return n;
            if (Environment.GetEnvironmentVariable("PMIX_RANK") is null) return 1;
            // srun --mpi=pmix announces the rank but no size; its step's task count is the size (seen with Slurm 22.05).
            // Without one, a PMIx launch is taken as distributed, and MPI_Comm_size says how many ranks there are.
            return Count("SLURM_STEP_NUM_TASKS") ?? 2;
        }
    }

    private static int? Count(string variable) =>
        int.TryParse(Environment.GetEnvironmentVariable(variable), NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n > 0 ? n : null;

    /// <summary>The synchronizer of a run with more than one rank (null: one process).</summary>
    public static IGradientSynchronizer? Sync { get; private set; }

    /// <summary>This process's rank (0 in a single process).</summary>
    public static int Rank => Sync?.Rank ?? 0;

    /// <summary>The number of ranks (1 in a single process).</summary>
    public static int Size => Sync?.Size ?? 1;

    private static Action<int, string>? fail;
    private static Action? finish;
    private static Func<TimeSpan>? waited;

    /// <summary>Starts MPI when this process was launched by an MPI launcher with more than one rank.</summary>
    public static void StartIfLaunched(string task, double timeoutSeconds)
    {
        if (Sync is not null || LaunchedSize <= 1) return;
        if (!Tasks.Contains(task))
            throw new ArgumentException($"--task {task}: data-parallel training over MPI ({LaunchedSize} ranks) splits the batches of {string.Join(" and ", Tasks)} only; run --task {task} in one process (without mpirun)");
        Start(timeoutSeconds);
        if (Rank != 0) Console.SetOut(TextWriter.Null); // the other ranks print nothing but errors (on standard error)
    }

    // Recur.Distributed is referenced in this method only, so the runtime loads it (and libmpi) only for a distributed run.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void Start(double timeoutSeconds)
    {
        Recur.Distributed.MpiCommunicator mpi;
        try
        {
            mpi = Recur.Distributed.MpiCommunicator.Start(TimeSpan.FromSeconds(timeoutSeconds), Environment.GetEnvironmentVariable("RECUR_MPI_LIBRARY"));
        }
        catch (Recur.Distributed.MpiUnavailableException e)
        {
            throw new IOException($"mpirun: {e.Message}", e);
        }
        Sync = mpi;
        fail = mpi.Fail;
        finish = mpi.Dispose;
        waited = () => mpi.WaitTime;
    }

    /// <summary>Time this rank spent in its training steps (forward, loss and backward, with the bucket sums started inside backward).</summary>
    public static TimeSpan StepTime => TimeSpan.FromSeconds((double)stepTicks / System.Diagnostics.Stopwatch.Frequency);

    /// <summary>How many training steps <see cref="StepTime"/> covers.</summary>
    public static long StepsTimed { get; private set; }

    private static long stepTicks;

    /// <summary>Adds one training step's time to <see cref="StepTime"/>.</summary>
    public static void AddStepTime(long ticks)
    {
        stepTicks += ticks;
        StepsTimed++;
    }

    /// <summary>Time this rank spent in collectives (communication and waiting for slower ranks).</summary>
    public static TimeSpan WaitTime => waited?.Invoke() ?? TimeSpan.Zero;

    /// <summary>
    /// After an error on this rank of a distributed run: prints it, naming the rank, and ends every rank (MPI_Abort).
    /// Returns only when the run is not distributed.
    /// </summary>
    public static void FailAll(Exception e)
    {
        if (fail is null) return;
        fail(1, e.Message);
    }

    /// <summary>MPI_Finalize after a run that ended normally (on every rank).</summary>
    public static void Finish() => finish?.Invoke();

    /// <summary>This rank's part of <paramref name="items"/> (a global batch, in its order): a contiguous, balanced range.</summary>
    public static T[] Shard<T>(T[] items)
    {
        var (lo, n) = Range(items.Length);
        return items[lo..(lo + n)];
    }

    /// <summary>This rank's range of <paramref name="total"/> items: ranks take floor(total*r/N) .. floor(total*(r+1)/N).</summary>
    public static (int Lo, int Count) Range(int total)
    {
        int lo = (int)((long)total * Rank / Size), hi = (int)((long)total * (Rank + 1) / Size);
        return (lo, hi - lo);
    }

    /// <summary>
    /// Makes the model's random streams (dropout) this rank's own: rank 0 keeps the run's streams, so one rank is the
    /// single-process run, and rank r draws from streams seeded by the run seed, the rank and the stream's position.
    /// </summary>
    public static void SeedRankStreams(Module model, ulong seed)
    {
        if (Rank == 0) return;
        int i = 0;
        foreach (var (_, rng) in model.NamedRngs())
            rng.SetState(new Rng(seed * 0x9E3779B97F4A7C15UL + (ulong)Rank * 0xBF58476D1CE4E5B9UL + (ulong)i++).GetState());
    }

    /// <summary>
    /// Fails on every rank unless every rank holds the same parameter values: their layout (count) and a hash of their
    /// bits, compared through one sum (equal values x_r iff (sum x)^2 = N sum x^2).
    /// </summary>
    public static void CheckSameParameters(Module model, string when)
    {
        if (Sync is not { } sync) return;
        ulong hash = 14695981039346656037UL;
        long count = 0;
        foreach (var p in model.Parameters())
            foreach (float v in p.Value.Span)
            {
                hash = (hash ^ BitConverter.SingleToUInt32Bits(v)) * 1099511628211UL;
                count++;
            }
        Span<double> x = stackalloc double[10];
        for (int k = 0; k < 4; k++) { double piece = (hash >> (16 * k)) & 0xFFFF; x[k] = piece; x[4 + k] = piece * piece; }
        x[8] = count;
        x[9] = (double)count * count;
        sync.Sum(x);
        bool same = true;
        for (int k = 0; k < 4; k++) same &= x[k] * x[k] == sync.Size * x[4 + k];
        same &= x[8] * x[8] == sync.Size * x[9];
        if (!same)
            throw new InvalidOperationException($"the ranks hold different parameters {when} ({count} values on rank {sync.Rank}): every rank must read the same data and options");
    }
}
