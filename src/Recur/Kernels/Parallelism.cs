using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Recur.Kernels;

/// <summary>A unit of parallel work: <see cref="Execute"/> is called once for every index in [0, count).</summary>
/// <remarks>
/// Each index must write only its own outputs. Which thread runs which index is not fixed, so results are
/// bit-identical from run to run only because no index depends on another.
/// </remarks>
internal interface IParallelJob
{
    void Execute(int index);
}

/// <summary>
/// The process-wide pool of compute threads used by the kernels: <see cref="ThreadCount"/> threads in all,
/// the caller plus <c>ThreadCount - 1</c> persistent workers, so a kernel never runs more threads than cores.
/// </summary>
/// <remarks>
/// Dispatch allocates nothing, so kernels can run inside a recurrent time loop without per-step garbage.
/// Workers spin briefly after a job (the next time step's job usually arrives within microseconds) and then
/// sleep. A call made while the pool is busy (from another thread, or from inside a job) runs on the calling
/// thread alone; results do not depend on the number of threads.
/// </remarks>
public static class Parallelism
{
    private static readonly object ConfigLock = new();
    private static WorkerPool? pool;
    private static int threadCount = DefaultThreadCount();

    /// <summary>
    /// Number of threads the kernels use, the caller included. Defaults to the environment variable
    /// <c>RECUR_NUM_THREADS</c> when set, else <see cref="Environment.ProcessorCount"/>.
    /// </summary>
    public static int ThreadCount
    {
        get => Volatile.Read(ref threadCount);
        set
        {
            if (value < 1 || value > 1024)
                throw new ArgumentOutOfRangeException(nameof(value), value, "ThreadCount must be in [1, 1024]");
            lock (ConfigLock)
            {
                if (value == threadCount) return;
                pool?.Shutdown();
                pool = null;
                Volatile.Write(ref threadCount, value);
            }
        }
    }

    private static int DefaultThreadCount()
    {
        string? s = Environment.GetEnvironmentVariable("RECUR_NUM_THREADS");
        if (s is not null && int.TryParse(s, out int n) && n >= 1 && n <= 1024) return n;
        return Math.Max(1, Environment.ProcessorCount);
    }

    /// <summary>Runs <paramref name="job"/> for every index in [0, count) on up to <see cref="ThreadCount"/> threads.</summary>
    internal static void For(IParallelJob job, int count)
    {
        if (count <= 0) return;
        if (count == 1 || ThreadCount == 1)
        {
            for (int i = 0; i < count; i++) job.Execute(i);
            return;
        }
        WorkerPool? p = pool;
        if (p is null)
        {
            lock (ConfigLock) p = pool ??= new WorkerPool(threadCount - 1);
        }
        p.Run(job, count);
    }

    private sealed class WorkerPool
    {
        private const long SpinMicroseconds = 500;

        [ThreadStatic] private static bool insideJob;

        private readonly Worker[] workers;
        private int busy;        // 1 while a Run owns the pool
        private IParallelJob? job;
        private int count;
        private int next;        // next index to claim
        private int participants;
        private int open;        // 1 while helpers may still join the current job
        private int inflight;    // helpers inside the current job
        private int generation;  // bumped once per job; workers wait for it to change
        private volatile bool stopping;
        private Exception? error;

        public WorkerPool(int workerCount)
        {
            workers = new Worker[workerCount];
            for (int w = 0; w < workerCount; w++)
            {
                var worker = new Worker(this, w);
                workers[w] = worker;
                worker.Thread.Start();
            }
        }

        public void Run(IParallelJob work, int n)
        {
            if (insideJob || stopping || Interlocked.CompareExchange(ref busy, 1, 0) != 0)
            {
                for (int i = 0; i < n; i++) work.Execute(i);
                return;
            }
            try
            {
                job = work;
                count = n;
                next = 0;
                error = null;
                int helpers = Math.Min(workers.Length, n - 1);
                participants = helpers;
                Volatile.Write(ref open, 1);           // after the fields above: a helper that sees it open sees them
                Interlocked.Increment(ref generation);
                for (int w = 0; w < helpers; w++) workers[w].Wake();

                insideJob = true;
                try { Drain(); }
                finally { insideJob = false; }

                // Every index is claimed. Close the job so that helpers still waking up skip it (the caller never waits
                // for a sleeping thread), then wait only for the helpers already inside.
                Interlocked.Exchange(ref open, 0);
                var spin = new SpinWait();
                while (Volatile.Read(ref inflight) != 0) spin.SpinOnce(sleep1Threshold: -1);
                job = null;
                if (error is { } e) ExceptionDispatchInfo.Capture(e).Throw();
            }
            finally
            {
                Volatile.Write(ref busy, 0);
            }
        }

        private void Drain()
        {
            IParallelJob work = job!;
            int n = count;
            int i;
            while ((i = Interlocked.Increment(ref next) - 1) < n)
            {
                try { work.Execute(i); }
                catch (Exception e) { Interlocked.CompareExchange(ref error, e, null); }
            }
        }

        /// <summary>A helper joins the current job if it is still open; both steps are full fences (Dekker-style with Run's close).</summary>
        private void Help()
        {
            Interlocked.Increment(ref inflight);
            if (Volatile.Read(ref open) == 1)
            {
                insideJob = true;
                try { Drain(); }
                finally { insideJob = false; }
            }
            Interlocked.Decrement(ref inflight);
        }

        /// <summary>Stops the workers once any job in flight has finished (a job's helpers must not leave mid-job).</summary>
        public void Shutdown()
        {
            var spin = new SpinWait();
            while (Interlocked.CompareExchange(ref busy, 1, 0) != 0) spin.SpinOnce();
            stopping = true;
            foreach (var w in workers) w.Wake(force: true);
        }

        private sealed class Worker
        {
            private readonly WorkerPool owner;
            private readonly int index;
            private readonly SemaphoreSlim signal = new(0);
            private int sleeping;
            public readonly Thread Thread;

            public Worker(WorkerPool owner, int index)
            {
                this.owner = owner;
                this.index = index;
                Thread = new Thread(Loop) { IsBackground = true, Name = $"recur-worker-{index}" };
            }

            public void Wake(bool force = false)
            {
                if (Interlocked.Exchange(ref sleeping, 0) == 1 || force) signal.Release();
            }

            private void Loop()
            {
                // Generation 0 is the pool's state before any job. Reading owner.generation here instead would race
                // with the first Run, which may publish generation 1 before this thread starts.
                int seen = 0;
                while (true)
                {
                    seen = WaitForGeneration(seen);
                    if (owner.stopping) return;
                    if (index < Volatile.Read(ref owner.participants)) owner.Help();
                }
            }

            private int WaitForGeneration(int seen)
            {
                long deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
                while (true)
                {
                    int g = Volatile.Read(ref owner.generation);
                    if (g != seen || owner.stopping) return g;
                    if (Stopwatch.GetTimestamp() < deadline)
                    {
                        Thread.SpinWait(16);
                        continue;
                    }
                    // A full fence, not just a release store: the flag must be visible before generation is
                    // re-read, or Wake could miss a worker that is about to sleep (store-load reordering).
                    Interlocked.Exchange(ref sleeping, 1);
                    g = Volatile.Read(ref owner.generation);
                    if (g != seen || owner.stopping)
                    {
                        // Either we cancel our own sleep, or Wake already released the semaphore and we consume it.
                        if (Interlocked.CompareExchange(ref sleeping, 0, 1) != 1) signal.Wait();
                        return g;
                    }
                    signal.Wait();
                    deadline = Stopwatch.GetTimestamp() + Stopwatch.Frequency * SpinMicroseconds / 1_000_000;
                }
            }
        }
    }
}
