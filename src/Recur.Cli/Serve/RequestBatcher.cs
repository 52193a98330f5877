using System.Threading.Channels;

namespace Recur.Cli.Serve;

/// <summary>
/// Dynamic batching for one loaded model: requests (each a list of inputs) wait in a queue; one worker takes the first,
/// then gathers more for up to <c>maxDelay</c> or until <c>maxBatch</c> inputs, and runs them as one call of
/// <c>run</c> (one padded, length-sorted batch through the engine). Requests whose caller has gone (its token
/// cancelled) are dropped before the batch runs. When a batch fails, its requests are run one by one, so one bad input
/// fails only its own request. <see cref="Complete"/> (a hot swap) lets the queued requests finish, then ends the worker.
/// <para>
/// With no gathering delay, a request that finds the engine idle and nobody queued runs at once on its own thread
/// (a batch of itself, exactly what the worker would run): no hop to the worker and back, which was most of what
/// batching cost a lone client. One engine lock orders the two paths, so requests that arrive meanwhile queue and run
/// together as the next batch.
/// </para>
/// </summary>
internal sealed class RequestBatcher<TIn, TOut>
{
    private sealed record Item(IReadOnlyList<TIn> Inputs, TaskCompletionSource<TOut[]> Done, CancellationToken Token);

    private readonly Channel<Item> queue = Channel.CreateUnbounded<Item>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Func<IReadOnlyList<TIn>, TOut[]> run;
    private readonly int maxBatch;
    private readonly TimeSpan maxDelay;
    private readonly Action<int> batchObserved;
    private readonly Action<int> depthChanged;
    private readonly SemaphoreSlim engine = new(1, 1);   // held while a batch runs, by the worker or inline
    private volatile bool completed;
    private int depth;

    public RequestBatcher(Func<IReadOnlyList<TIn>, TOut[]> run, int maxBatch, TimeSpan maxDelay, Action<int> batchObserved, Action<int> depthChanged)
    {
        this.run = run;
        this.maxBatch = maxBatch;
        this.maxDelay = maxDelay;
        this.batchObserved = batchObserved;
        this.depthChanged = depthChanged;
        Worker = Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    /// <summary>The worker; it ends after <see cref="Complete"/> once the queue is empty.</summary>
    public Task Worker { get; }

    /// <summary>Requests waiting for a batch.</summary>
    public int Depth => Volatile.Read(ref depth);

    /// <summary>
    /// Queues <paramref name="inputs"/> and waits for their outputs; false when this batcher no longer takes requests
    /// (the model was swapped: the caller retries on the new one).
    /// </summary>
    public bool TryEnqueue(IReadOnlyList<TIn> inputs, CancellationToken token, out Task<TOut[]> outputs)
    {
        if (completed) { outputs = Task.FromResult<TOut[]>([]); return false; }
        if (maxDelay == TimeSpan.Zero && Volatile.Read(ref depth) == 0 && engine.Wait(0))
        {
            // Idle: run here. Whoever queues meanwhile waits for the engine and runs as the next batch.
            try
            {
                if (Volatile.Read(ref depth) == 0)
                {
                    token.ThrowIfCancellationRequested();
                    batchObserved(inputs.Count);
                    try { outputs = Task.FromResult(run(inputs)); }
                    catch (Exception e) { outputs = Task.FromException<TOut[]>(e); }
                    return true;
                }
            }
            finally { engine.Release(); }
        }
        var item = new Item(inputs, new TaskCompletionSource<TOut[]>(TaskCreationOptions.RunContinuationsAsynchronously), token);
        if (!queue.Writer.TryWrite(item)) { outputs = Task.FromResult<TOut[]>([]); return false; }
        depthChanged(Interlocked.Increment(ref depth));
        outputs = item.Done.Task.WaitAsync(token);
        return true;
    }

    /// <summary>Takes no more requests; those queued still run.</summary>
    public void Complete()
    {
        completed = true;
        queue.Writer.TryComplete();
    }

    private async Task Loop()
    {
        var reader = queue.Reader;
        var batch = new List<Item>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            await engine.WaitAsync().ConfigureAwait(false);
            try { await Gather(reader, batch).ConfigureAwait(false); }
            finally { engine.Release(); }
        }
    }

    /// <summary>Takes the first queued request and what joins it (see the class remarks), and runs them as one batch.</summary>
    private async Task Gather(ChannelReader<Item> reader, List<Item> batch)
    {
        batch.Clear();
        int inputs = 0;
        if (!reader.TryRead(out var first)) return;
        Take(batch, first, ref inputs);
        if (maxDelay > TimeSpan.Zero && inputs < maxBatch)
        {
            using var window = new CancellationTokenSource(maxDelay);
            try
            {
                while (inputs < maxBatch)
                {
                    if (reader.TryRead(out var next)) { Take(batch, next, ref inputs); continue; }
                    if (!await reader.WaitToReadAsync(window.Token).ConfigureAwait(false)) break;
                }
            }
            catch (OperationCanceledException) when (window.IsCancellationRequested) { }
        }
        // Also take what is already waiting, without waiting longer.
        while (inputs < maxBatch && reader.TryRead(out var ready)) Take(batch, ready, ref inputs);
        Run(batch);
    }

    private void Take(List<Item> batch, Item item, ref int inputs)
    {
        depthChanged(Interlocked.Decrement(ref depth));
        if (item.Token.IsCancellationRequested) { item.Done.TrySetCanceled(item.Token); return; }
        batch.Add(item);
        inputs += item.Inputs.Count;
    }

    private void Run(List<Item> batch)
    {
        batch.RemoveAll(i => { if (!i.Token.IsCancellationRequested) return false; i.Done.TrySetCanceled(i.Token); return true; });
        if (batch.Count == 0) return;
        var all = batch.SelectMany(i => i.Inputs).ToList();
        batchObserved(all.Count);
        TOut[] outputs;
        try
        {
            outputs = run(all);
        }
        catch (Exception) when (batch.Count > 1)
        {
            // One request's input broke the batch: run each alone, so the others still get their answers.
            foreach (var item in batch) RunAlone(item);
            return;
        }
        catch (Exception e)
        {
            batch[0].Done.TrySetException(e);
            return;
        }
        int k = 0;
        foreach (var item in batch)
        {
            item.Done.TrySetResult(outputs[k..(k + item.Inputs.Count)]);
            k += item.Inputs.Count;
        }
    }

    private void RunAlone(Item item)
    {
        try
        {
            batchObserved(item.Inputs.Count);
            item.Done.TrySetResult(run(item.Inputs));
        }
        catch (Exception e) { item.Done.TrySetException(e); }
    }
}
