using System.Diagnostics;
using Recur.Nn;
using Recur.Optim;
using Recur.Tensors;

namespace Recur.Training;

/// <summary>A validation result: the metric early stopping and best-model keeping follow, plus any others to log.</summary>
/// <param name="Name">Name of the metric (e.g. "loss", "accuracy").</param>
/// <param name="Value">Its value.</param>
/// <param name="HigherIsBetter">Direction of improvement.</param>
/// <param name="Others">Further metrics, for logs.</param>
public sealed record Evaluation(string Name, double Value, bool HigherIsBetter, IReadOnlyDictionary<string, double>? Others = null)
{
    /// <summary>Whether this is better than <paramref name="other"/> (null counts as worst).</summary>
    public bool IsBetterThan(Evaluation? other) => IsBetterThan(other, 0);

    /// <summary>
    /// Whether this is better than <paramref name="other"/> by more than <paramref name="minDelta"/> (null counts as
    /// worst), as Keras' <c>EarlyStopping(min_delta)</c>: higher is better means Value - minDelta &gt; other.
    /// </summary>
    public bool IsBetterThan(Evaluation? other, double minDelta) =>
        other is null || double.IsNaN(other.Value) || (HigherIsBetter ? Value - minDelta > other.Value : Value + minDelta < other.Value);

    /// <summary>The value as a loss to minimise (for plateau schedules).</summary>
    public double AsLoss => HigherIsBetter ? -Value : Value;
}

/// <summary>What a progress event reports.</summary>
public enum ProgressKind
{
    /// <summary>Every <see cref="TrainerOptions.LogEvery"/> steps.</summary>
    Step,
    /// <summary>A checkpoint was written (the message gives the path).</summary>
    Checkpoint,
    /// <summary>After each epoch, with the validation result if any.</summary>
    EpochEnd,
    /// <summary>A skipped step (non-finite loss or gradient) or another warning.</summary>
    Warning,
}

/// <summary>A progress event: step, loss, throughput, ETA, learning rate, gradient norm.</summary>
public sealed record TrainingProgress(
    ProgressKind Kind, int Epoch, int Epochs, long Step, long? TotalSteps, double Loss, double LearningRate,
    double GradientNorm, double ItemsPerSecond, TimeSpan Elapsed, TimeSpan? Eta, Evaluation? Validation, string? Message);

/// <summary>Why training stopped.</summary>
public enum StopReason
{
    /// <summary>All epochs (or the step limit) done.</summary>
    Completed,
    /// <summary>The validation metric stopped improving for the patience.</summary>
    EarlyStopped,
    /// <summary>The cancellation token fired.</summary>
    Cancelled,
}

/// <summary>One epoch in the history.</summary>
public sealed record EpochSummary(int Epoch, long Steps, double TrainLoss, double LearningRate, Evaluation? Validation, TimeSpan Elapsed);

/// <summary>The outcome of <see cref="Trainer{TBatch}.Fit"/>.</summary>
public sealed record TrainingResult(StopReason Reason, long Steps, long SkippedSteps, IReadOnlyList<EpochSummary> History,
    Evaluation? Best, int BestEpoch, TimeSpan Elapsed);

/// <summary>Thrown when too many steps in a row had a non-finite loss or gradient.</summary>
public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>Options of the <see cref="Trainer{TBatch}"/>. Every option has a default.</summary>
public sealed record TrainerOptions
{
    /// <summary>Passes over the training data.</summary>
    public int Epochs { get; init; } = 10;

    /// <summary>Stop after this many optimizer steps (null: no limit).</summary>
    public long? MaxSteps { get; init; }

    /// <summary>Batches whose gradients are averaged into one optimizer step.</summary>
    public int GradientAccumulation { get; init; } = 1;

    /// <summary>Clip the global gradient 2-norm to this (null: no clipping). The cure for exploding gradients; on by default.</summary>
    public float? ClipNorm { get; init; } = 5f;

    /// <summary>Clip every gradient element to ±this (null: off).</summary>
    public float? ClipValue { get; init; }

    /// <summary>Stop with <see cref="TrainingDivergedException"/> after this many skipped steps in a row.</summary>
    public int MaxConsecutiveBadSteps { get; init; } = 5;

    /// <summary>Stop after this many epochs without a better validation metric (null: never).</summary>
    public int? EarlyStoppingPatience { get; init; }

    /// <summary>
    /// Smallest improvement of the validation metric that counts as one (absolute, in the metric's units), for early
    /// stopping and for the best epoch kept by <see cref="KeepBest"/>: an epoch better by less does not reset the patience.
    /// </summary>
    public double EarlyStoppingMinDelta { get; init; }

    /// <summary>Restore the parameters of the best validation epoch at the end.</summary>
    public bool KeepBest { get; init; } = true;

    /// <summary>Steps between <see cref="ProgressKind.Step"/> events.</summary>
    public int LogEvery { get; init; } = 10;

    /// <summary>Write a checkpoint here (atomically): every <see cref="CheckpointEvery"/> steps, at each epoch's end and on cancellation. Null: no checkpoints.</summary>
    public string? CheckpointPath { get; init; }

    /// <summary>Optimizer steps between checkpoints (null: only at epoch ends and on cancellation).</summary>
    public int? CheckpointEvery { get; init; }

    /// <summary>Extra string metadata stored in every checkpoint (e.g. the CLI's run configuration).</summary>
    public IReadOnlyDictionary<string, string>? CheckpointMetadata { get; init; }

    /// <summary>Continue the run saved in this checkpoint, exactly as if it had not stopped (same model, optimizer, schedule and data).</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>
    /// When the run ends by itself (all epochs, <see cref="MaxSteps"/> or early stopping; not on cancellation), write a
    /// checkpoint of where it ended here: the final weights (before <see cref="KeepBest"/> restores the best ones),
    /// the optimizer moments, the schedule, the data streams. Resuming from it with a larger <see cref="Epochs"/> or
    /// <see cref="MaxSteps"/> continues the finished run as if it had been configured that long from the start
    /// (except schedules that depend on the total length, such as cosine). Null: no final checkpoint.
    /// </summary>
    public string? FinalCheckpointPath { get; init; }

    /// <summary>Validates the options; throws naming the option.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be >= 1");
        if (MaxSteps is < 1) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "MaxSteps must be >= 1");
        if (GradientAccumulation < 1) throw new ArgumentOutOfRangeException(nameof(GradientAccumulation), GradientAccumulation, "GradientAccumulation must be >= 1");
        if (ClipNorm is { } n && !(n > 0f && float.IsFinite(n))) throw new ArgumentOutOfRangeException(nameof(ClipNorm), n, "ClipNorm must be finite and > 0");
        if (ClipValue is { } v && !(v > 0f && float.IsFinite(v))) throw new ArgumentOutOfRangeException(nameof(ClipValue), v, "ClipValue must be finite and > 0");
        if (MaxConsecutiveBadSteps < 1) throw new ArgumentOutOfRangeException(nameof(MaxConsecutiveBadSteps), MaxConsecutiveBadSteps, "MaxConsecutiveBadSteps must be >= 1");
        if (!(EarlyStoppingMinDelta >= 0 && double.IsFinite(EarlyStoppingMinDelta))) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingMinDelta), EarlyStoppingMinDelta, "EarlyStoppingMinDelta must be finite and >= 0");
        if (EarlyStoppingPatience is < 1) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "EarlyStoppingPatience must be >= 1");
        if (CheckpointEvery is < 1) throw new ArgumentOutOfRangeException(nameof(CheckpointEvery), CheckpointEvery, "CheckpointEvery must be >= 1");
        if (LogEvery < 1) throw new ArgumentOutOfRangeException(nameof(LogEvery), LogEvery, "LogEvery must be >= 1");
    }
}

/// <summary>
/// The training loop, top to bottom: for each epoch, for each batch: forward, backward (accumulating), then once
/// per <see cref="TrainerOptions.GradientAccumulation"/> batches: average, check for NaN/Inf, clip, schedule, step.
/// After each epoch: validate, schedule, keep the best parameters, maybe stop early. Emits progress events and
/// honours cancellation between steps.
/// </summary>
public sealed class Trainer<TBatch>(Optimizer optimizer, TrainerOptions? options = null, LrSchedule? schedule = null)
{
    private readonly TrainerOptions options = options ?? new TrainerOptions();

    /// <summary>Raised for every progress event.</summary>
    public event Action<TrainingProgress>? Progress;

    /// <summary>The optimizer.</summary>
    public Optimizer Optimizer { get; } = optimizer ?? throw new ArgumentNullException(nameof(optimizer));

    private readonly List<(string Name, Rng Rng)> dataRngs = [];

    /// <summary>
    /// Data-parallel training (null: one process). Every rank runs <see cref="Fit"/> with the same options and its own
    /// shard of each batch; after the backward pass the gradients, weighted by each rank's <see cref="BatchLoss.Count"/>,
    /// are summed and divided by the global count, so every rank takes the step one process would take on the whole
    /// batch. Cancellation is agreed through the same sum (every rank stops after the same step). Rank 0 alone writes
    /// checkpoints and raises progress events; every rank still captures the model's carried state, because a sharded
    /// model may need every rank to gather it.
    /// </summary>
    public IGradientSynchronizer? Synchronizer { get; init; }

    /// <summary>
    /// Data-parallel training: bytes of gradient per bucket whose sum starts as soon as the backward pass has finished
    /// its parameters, overlapping communication with the rest of the backward pass (<see cref="GradientBuckets"/>;
    /// PyTorch DDP's <c>bucket_cap_mb</c>, 25 MB there). 0 (the default): one sum of all gradients after the backward
    /// pass. Used only with a <see cref="Synchronizer"/>; buckets need the model's <see cref="ITrainable{TBatch}.ItemCount"/>.
    /// </summary>
    public long BucketBytes
    {
        get => bucketBytes;
        init => bucketBytes = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "BucketBytes must be >= 0");
    }
    private readonly long bucketBytes;

    private bool Writes => Synchronizer is null || Synchronizer.Rank == 0;

    /// <summary>
    /// Registers a random stream that <c>epochBatches</c> draws from (e.g. a shuffling generator shared across
    /// epochs). Its state at the start of every epoch goes into checkpoints, so a resumed run replays that
    /// epoch's batches in the same order.
    /// </summary>
    public void TrackDataRng(string name, Rng rng)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentNullException.ThrowIfNull(rng);
        if (dataRngs.Any(d => d.Name == name)) throw new ArgumentException($"data random stream '{name}' is already tracked", nameof(name));
        dataRngs.Add((name, rng));
    }

    /// <summary>Trains <paramref name="model"/>.</summary>
    /// <param name="model">What to train.</param>
    /// <param name="epochBatches">
    /// The batches of an epoch (epochs count from 1), e.g. seeded-shuffled per epoch. For exact resumption the
    /// batches must depend only on the epoch number and on random streams registered with <see cref="TrackDataRng"/>.
    /// </param>
    /// <param name="validate">Evaluates the model after each epoch (null: no validation).</param>
    /// <param name="batchesPerEpoch">For the ETA, when known.</param>
    /// <param name="cancellation">Stops training between optimizer steps (with a checkpoint when one is configured).</param>
    public TrainingResult Fit(ITrainable<TBatch> model, Func<int, IEnumerable<TBatch>> epochBatches, Func<Evaluation>? validate = null,
        int? batchesPerEpoch = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(epochBatches);
        options.Validate();
        if (Synchronizer is not null && options.GradientAccumulation > 1)
            throw new ArgumentException($"GradientAccumulation {options.GradientAccumulation} with a synchronizer: data-parallel training averages each step's batch across processes; accumulate by a larger global batch instead", nameof(options));
        var parameters = Optimizer.Parameters;
        using var buckets = Synchronizer is { } bucketSync && BucketBytes > 0
            ? new GradientBuckets(Optimizer.Arena ?? throw new InvalidOperationException("data-parallel training needs the optimizer's parameters in one intact arena"), bucketSync, BucketBytes)
            : null;
        long? totalSteps = batchesPerEpoch is { } bpe ? (long)options.Epochs * bpe / options.GradientAccumulation : options.MaxSteps;
        if (options.MaxSteps is { } ms && totalSteps is { } ts) totalSteps = Math.Min(ms, ts);
        var reason = StopReason.Completed;

        LoopState s;
        IReadOnlyDictionary<string, Tensor>? carried = null;
        if (options.ResumeFrom is { } resumePath)
        {
            s = Checkpoint.Load(resumePath, model.Model, Optimizer, schedule, out var restored);
            carried = restored;
            foreach (var (name, rng) in dataRngs)
            {
                if (!s.EpochStartRngs.TryGetValue(name, out var words))
                    throw new RecurFormatException(resumePath, $"__metadata__.trainer.epoch_start_rngs.{name}", "expected the state of this data random stream, found none");
                rng.SetState(words);
            }
            Emit(ProgressKind.Checkpoint, s, totalSteps, null, null, $"resumed from {resumePath} at epoch {s.Epoch}, step {s.Step}");
        }
        else
        {
            s = new LoopState { LearningRate = Optimizer.LearningRate };
        }
        var clock = Stopwatch.StartNew();
        clockBase = s.ElapsedBefore;
        void SaveTo(string? path, string why)
        {
            if (path is null) return;
            s.ElapsedBefore = clockBase + clock.Elapsed;
            var carriedState = model.CaptureState(); // on every rank: a sharded model gathers its state here
            if (!Writes) return;
            Checkpoint.Save(path, model.Model, Optimizer, schedule, s, carriedState, options.CheckpointMetadata);
            Emit(ProgressKind.Checkpoint, s, totalSteps, clock, null, $"checkpoint ({why}) written to {path}");
        }
        void Save(string why) => SaveTo(options.CheckpointPath, why);
        bool finalSaved = false;

        // Starts epoch `epoch` from its first batch: fresh sums, and the data streams' state recorded for checkpoints.
        void BeginEpoch(int epoch)
        {
            s.Epoch = epoch;
            s.BatchesDone = 0;
            s.EpochLoss = s.EpochCount = s.WindowLoss = s.WindowCount = 0;
            s.EpochStartRngs = dataRngs.ToDictionary(d => d.Name, d => d.Rng.GetState());
            model.StartEpoch(epoch);
        }

        Optimizer.ZeroGrad();
        // A run resumed from its final checkpoint has nothing left to do unless it was given more epochs or steps.
        bool done = (options.MaxSteps is { } m0 && s.Step >= m0) || s.Epoch > options.Epochs;
        if (!done)
        {
            if (carried is null) BeginEpoch(1);
            else
            {
                // Resumed: continue the saved epoch where it stopped, with the state the model carried there.
                model.StartEpoch(s.Epoch);
                model.RestoreState(carried);
            }
        }
        bool stopAgreed = false; // data-parallel: a rank's cancellation, known to every rank after the next gradient sum
        while (!done)
        {
            int epoch = s.Epoch;
            model.Model.Training = true;
            double accLoss = 0;
            int accumulated = 0, accCount = 0, seen = 0, skipTo = s.BatchesDone;
            foreach (var batch in epochBatches(epoch))
            {
                if (seen++ < skipTo) continue; // replaying a resumed epoch: these batches were already trained on
                if (accumulated == 0 && (Synchronizer is null ? cancellation.IsCancellationRequested : stopAgreed)) { reason = StopReason.Cancelled; break; }
                int? weight = null;
                if (buckets is not null)
                {
                    weight = model.ItemCount(batch) ?? throw new InvalidOperationException(
                        $"{model.Model.GetType().Name} does not tell its item count before a step, which gradient buckets need; set BucketBytes to 0");
                    buckets.Begin(weight.Value);
                }
                var r = model.Step(batch, backward: true);
                if (weight is { } w && r.Count != w)
                    throw new InvalidOperationException($"{model.Model.GetType().Name}: ItemCount said {w} items, the step counted {r.Count}");
                accLoss += r.Loss;
                accumulated++;
                accCount += r.Count;
                if (Synchronizer is null) s.Items += r.Count;
                if (accumulated < options.GradientAccumulation) continue;
                if (Synchronizer is { } sync)
                {
                    (accLoss, accCount, stopAgreed) = SumAcrossRanks(sync, parameters, r, cancellation.IsCancellationRequested, buckets);
                    s.Items += accCount;
                }

                // One optimizer step from the averaged gradients of `accumulated` batches.
                double loss = accLoss / accumulated;
                int count = accCount;
                if (accumulated > 1) GradientClipping.Scale(parameters, 1f / accumulated);
                s.BatchesDone += accumulated;
                accLoss = 0;
                accumulated = accCount = 0;
                // The optimizer's parameters are one arena: the norm (which is NaN or infinity when a gradient is, the
                // finiteness check), the clipping, the step and the zero-grad below are each one loop over it.
                s.GradNorm = GradientClipping.GlobalNorm(parameters);
                if (!double.IsFinite(loss) || !double.IsFinite(s.GradNorm))
                {
                    // A non-finite loss or gradient never reaches the weights.
                    Optimizer.ZeroGrad();
                    s.Skipped++;
                    s.BadInARow++;
                    Emit(ProgressKind.Warning, s, totalSteps, clock, null,
                        $"step {s.Step + 1} skipped: {(double.IsFinite(loss) ? "gradient norm" : "loss")} is {(double.IsFinite(loss) ? s.GradNorm : loss)} ({s.BadInARow} in a row)");
                    if (s.BadInARow >= options.MaxConsecutiveBadSteps)
                        throw new TrainingDivergedException(
                            $"training stopped: {s.BadInARow} steps in a row had a non-finite loss or gradient (last loss {loss}, gradient norm {s.GradNorm}) at epoch {epoch}, step {s.Step + 1}. " +
                            "Lower the learning rate, clip gradients harder (ClipNorm), or check the data for NaN/Inf.");
                    continue;
                }
                s.BadInARow = 0;
                if (options.ClipNorm is { } maxNorm) GradientClipping.ClipByNorm(parameters, maxNorm);
                if (options.ClipValue is { } maxValue) GradientClipping.ClipByValue(parameters, maxValue);
                s.Step++;
                if (schedule is not null) Optimizer.LearningRate = schedule.OnStep(s.Step);
                Optimizer.Step();
                Optimizer.ZeroGrad();

                s.EpochLoss += loss * count;
                s.EpochCount += count;
                s.WindowLoss += loss;
                s.WindowCount++;
                if (s.Step % options.LogEvery == 0)
                {
                    Emit(ProgressKind.Step, s, totalSteps, clock, null, null, s.WindowLoss / s.WindowCount);
                    s.WindowLoss = s.WindowCount = 0;
                }
                if (options.MaxSteps is { } max && s.Step >= max)
                {
                    // Stopped inside the epoch: a longer run would go on from exactly here.
                    SaveTo(options.FinalCheckpointPath, "final");
                    finalSaved = true;
                    done = true;
                    break;
                }
                if (options.CheckpointEvery is { } every && s.Step % every == 0) Save($"step {s.Step}");
            }
            if (accumulated > 0) Optimizer.ZeroGrad(); // a partial accumulation at the epoch's end is dropped, not applied
            if (reason == StopReason.Cancelled) { Save("cancelled"); break; }

            Evaluation? val = null;
            if (validate is not null)
            {
                using (model.Model.EvaluationMode()) val = validate();
            }
            if (schedule is not null) Optimizer.LearningRate = schedule.OnEpochEnd(epoch, val?.AsLoss);
            double trainLoss = s.EpochCount > 0 ? s.EpochLoss / s.EpochCount : double.NaN;
            s.History.Add(new EpochSummary(epoch, s.Step, trainLoss, Optimizer.LearningRate, val, clockBase + clock.Elapsed));
            Emit(ProgressKind.EpochEnd, s, totalSteps, clock, val, null, trainLoss);

            if (val is not null)
            {
                if (val.IsBetterThan(s.Best, options.EarlyStoppingMinDelta))
                {
                    s.Best = val;
                    s.BestEpoch = epoch;
                    s.SinceBest = 0;
                    if (options.KeepBest) s.BestValues = parameters.Select(p => p.Value.ToArray()).ToArray();
                }
                else if (options.EarlyStoppingPatience is { } patience && ++s.SinceBest >= patience)
                {
                    reason = StopReason.EarlyStopped;
                    done = true;
                }
            }
            if (options.MaxSteps is { } maxSteps && s.Step >= maxSteps) done = true;
            if (done || epoch >= options.Epochs)
            {
                if (!finalSaved && options.FinalCheckpointPath is not null)
                {
                    // Ended at an epoch boundary: a longer run would start the next epoch here.
                    BeginEpoch(epoch + 1);
                    SaveTo(options.FinalCheckpointPath, "final");
                }
                break;
            }

            // The next epoch starts here: a checkpoint at the boundary resumes with that epoch's first batch.
            BeginEpoch(epoch + 1);
            Save($"end of epoch {epoch}");
        }

        if (options.KeepBest && s.BestValues is not null)
            for (int i = 0; i < parameters.Count; i++) s.BestValues[i].CopyTo(parameters[i].Value.Span);
        model.Model.Training = false;
        return new TrainingResult(reason, s.Step, s.Skipped, s.History, s.Best, s.BestEpoch, clockBase + clock.Elapsed);
    }

    private TimeSpan clockBase;

    /// <summary>
    /// One data-parallel reduction: this rank's gradient of its shard's mean loss, weighted by its count, summed over
    /// the ranks and divided by the global count: the gradient of the global batch's mean loss. The loss, the count
    /// and the cancellation requests travel in a second, small sum. A rank with an empty shard adds zeros.
    /// </summary>
    private (double Loss, int Count, bool Stop) SumAcrossRanks(IGradientSynchronizer sync, IReadOnlyList<Parameter> parameters, BatchLoss local, bool cancel,
        GradientBuckets? buckets)
    {
        if (buckets is not null) buckets.Finish(); // the buckets were weighted and most of them started during backward
        else
        {
            var arena = Optimizer.Arena ?? throw new InvalidOperationException("data-parallel training needs the optimizer's parameters in one intact arena");
            GradientClipping.Scale(parameters, local.Count);
            sync.Sum(arena.Grads);
        }
        Span<double> totals = [local.Count > 0 ? local.Loss * local.Count : 0, local.Count, cancel ? 1 : 0];
        sync.Sum(totals);
        double count = totals[1];
        if (count > 0) GradientClipping.Scale(parameters, (float)(1 / count));
        return (count > 0 ? totals[0] / count : double.NaN, (int)count, totals[2] > 0);
    }

    private void Emit(ProgressKind kind, LoopState s, long? total, Stopwatch? clock, Evaluation? val, string? message, double loss = double.NaN) =>
        Emit(kind, s.Epoch, s.Step, total, loss, s.GradNorm, s.Items, clock, val, message);

    private void Emit(ProgressKind kind, int epoch, long step, long? total, double loss, double gradNorm, double items, Stopwatch? clock,
        Evaluation? val, string? message)
    {
        if (Progress is null || !Writes) return;
        var elapsed = clockBase + (clock?.Elapsed ?? TimeSpan.Zero);
        double seconds = Math.Max(elapsed.TotalSeconds, 1e-9);
        TimeSpan? eta = total is { } t && step > 0 && t > step ? TimeSpan.FromSeconds(seconds / step * (t - step)) : null;
        Progress(new TrainingProgress(kind, epoch, options.Epochs, step, total, loss, Optimizer.LearningRate, gradNorm,
            items / seconds, elapsed, eta, val, message));
    }
}
