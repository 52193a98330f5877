using System.Diagnostics;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Training;

/// <summary>The mean loss of a batch and how many items (sequences, tokens, steps) it averaged over.</summary>
public readonly record struct BatchLoss(double Loss, int Count);

/// <summary>A model the <see cref="Trainer{TBatch}"/> can train on batches of <typeparamref name="TBatch"/>.</summary>
public interface ITrainable<in TBatch>
{
    /// <summary>The module whose parameters are trained.</summary>
    Module Model { get; }

    /// <summary>
    /// Forward pass and loss on one batch; with <paramref name="backward"/>, adds the gradient of the returned mean
    /// loss to every parameter's gradient.
    /// </summary>
    BatchLoss Step(TBatch batch, bool backward);

    /// <summary>Called before each epoch (a language model resets its carried state here).</summary>
    void StartEpoch(int epoch) { }
}

/// <summary>A validation result: the metric early stopping and best-model keeping follow, plus any others to log.</summary>
/// <param name="Name">Name of the metric (e.g. "loss", "accuracy").</param>
/// <param name="Value">Its value.</param>
/// <param name="HigherIsBetter">Direction of improvement.</param>
/// <param name="Others">Further metrics, for logs.</param>
public sealed record Evaluation(string Name, double Value, bool HigherIsBetter, IReadOnlyDictionary<string, double>? Others = null)
{
    /// <summary>Whether this is better than <paramref name="other"/> (null counts as worst).</summary>
    public bool IsBetterThan(Evaluation? other) =>
        other is null || double.IsNaN(other.Value) || (HigherIsBetter ? Value > other.Value : Value < other.Value);

    /// <summary>The value as a loss to minimise (for plateau schedules).</summary>
    public double AsLoss => HigherIsBetter ? -Value : Value;
}

/// <summary>What a progress event reports.</summary>
public enum ProgressKind
{
    /// <summary>Every <see cref="TrainerOptions.LogEvery"/> steps.</summary>
    Step,
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

    /// <summary>Restore the parameters of the best validation epoch at the end.</summary>
    public bool KeepBest { get; init; } = true;

    /// <summary>Steps between <see cref="ProgressKind.Step"/> events.</summary>
    public int LogEvery { get; init; } = 10;

    /// <summary>Validates the options; throws naming the option.</summary>
    public void Validate()
    {
        if (Epochs < 1) throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "Epochs must be >= 1");
        if (MaxSteps is < 1) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "MaxSteps must be >= 1");
        if (GradientAccumulation < 1) throw new ArgumentOutOfRangeException(nameof(GradientAccumulation), GradientAccumulation, "GradientAccumulation must be >= 1");
        if (ClipNorm is { } n && !(n > 0f && float.IsFinite(n))) throw new ArgumentOutOfRangeException(nameof(ClipNorm), n, "ClipNorm must be finite and > 0");
        if (ClipValue is { } v && !(v > 0f && float.IsFinite(v))) throw new ArgumentOutOfRangeException(nameof(ClipValue), v, "ClipValue must be finite and > 0");
        if (MaxConsecutiveBadSteps < 1) throw new ArgumentOutOfRangeException(nameof(MaxConsecutiveBadSteps), MaxConsecutiveBadSteps, "MaxConsecutiveBadSteps must be >= 1");
        if (EarlyStoppingPatience is < 1) throw new ArgumentOutOfRangeException(nameof(EarlyStoppingPatience), EarlyStoppingPatience, "EarlyStoppingPatience must be >= 1");
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

    /// <summary>Trains <paramref name="model"/>.</summary>
    /// <param name="model">What to train.</param>
    /// <param name="epochBatches">The batches of an epoch (epochs count from 1), e.g. seeded-shuffled per epoch.</param>
    /// <param name="validate">Evaluates the model after each epoch (null: no validation).</param>
    /// <param name="batchesPerEpoch">For the ETA, when known.</param>
    /// <param name="cancellation">Stops training between steps.</param>
    public TrainingResult Fit(ITrainable<TBatch> model, Func<int, IEnumerable<TBatch>> epochBatches, Func<Evaluation>? validate = null,
        int? batchesPerEpoch = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(epochBatches);
        options.Validate();
        var parameters = Optimizer.Parameters;
        var clock = Stopwatch.StartNew();
        var history = new List<EpochSummary>();
        long step = 0, skipped = 0;
        int badInARow = 0;
        Evaluation? best = null;
        int bestEpoch = 0, sinceBest = 0;
        float[][]? bestValues = null;
        long? totalSteps = batchesPerEpoch is { } bpe ? (long)options.Epochs * bpe / options.GradientAccumulation : options.MaxSteps;
        if (options.MaxSteps is { } ms && totalSteps is { } ts) totalSteps = Math.Min(ms, ts);
        var reason = StopReason.Completed;
        double items = 0;
        double gradNorm = double.NaN;

        Optimizer.ZeroGrad();
        for (int epoch = 1; epoch <= options.Epochs && reason == StopReason.Completed; epoch++)
        {
            model.StartEpoch(epoch);
            model.Model.Training = true;
            double epochLoss = 0, epochCount = 0, windowLoss = 0, windowCount = 0;
            double accLoss = 0;
            int accumulated = 0, accCount = 0;
            foreach (var batch in epochBatches(epoch))
            {
                if (cancellation.IsCancellationRequested) { reason = StopReason.Cancelled; break; }
                var r = model.Step(batch, backward: true);
                accLoss += r.Loss;
                accumulated++;
                accCount += r.Count;
                items += r.Count;
                if (accumulated < options.GradientAccumulation) continue;

                // One optimizer step from the averaged gradients of `accumulated` batches.
                double loss = accLoss / accumulated;
                int count = accCount;
                if (accumulated > 1)
                    foreach (var p in parameters) TensorPrimitives.Multiply(p.Grad.Span, 1f / accumulated, p.Grad.Span);
                accLoss = 0;
                accumulated = accCount = 0;
                gradNorm = GradientClipping.GlobalNorm(parameters);
                if (!double.IsFinite(loss) || !double.IsFinite(gradNorm))
                {
                    // A non-finite loss or gradient never reaches the weights.
                    Optimizer.ZeroGrad();
                    skipped++;
                    badInARow++;
                    Emit(ProgressKind.Warning, epoch, step, totalSteps, loss, gradNorm, items, clock, null,
                        $"step {step + 1} skipped: {(double.IsFinite(loss) ? "gradient norm" : "loss")} is {(double.IsFinite(loss) ? gradNorm : loss)} ({badInARow} in a row)");
                    if (badInARow >= options.MaxConsecutiveBadSteps)
                        throw new TrainingDivergedException(
                            $"training stopped: {badInARow} steps in a row had a non-finite loss or gradient (last loss {loss}, gradient norm {gradNorm}) at epoch {epoch}, step {step + 1}. " +
                            "Lower the learning rate, clip gradients harder (ClipNorm), or check the data for NaN/Inf.");
                    continue;
                }
                badInARow = 0;
                if (options.ClipNorm is { } maxNorm) GradientClipping.ClipByNorm(parameters, maxNorm);
                if (options.ClipValue is { } maxValue) GradientClipping.ClipByValue(parameters, maxValue);
                step++;
                if (schedule is not null) Optimizer.LearningRate = schedule.OnStep(step);
                Optimizer.Step();
                Optimizer.ZeroGrad();

                epochLoss += loss * count;
                epochCount += count;
                windowLoss += loss;
                windowCount++;
                if (step % options.LogEvery == 0)
                {
                    Emit(ProgressKind.Step, epoch, step, totalSteps, windowLoss / windowCount, gradNorm, items, clock, null, null);
                    windowLoss = windowCount = 0;
                }
                if (options.MaxSteps is { } max && step >= max) break;
            }
            if (accumulated > 0) Optimizer.ZeroGrad(); // a partial accumulation at the epoch's end is dropped, not applied
            if (reason == StopReason.Cancelled) break;

            Evaluation? val = null;
            if (validate is not null)
            {
                model.Model.Training = false;
                val = validate();
                model.Model.Training = true;
            }
            if (schedule is not null) Optimizer.LearningRate = schedule.OnEpochEnd(epoch, val?.AsLoss);
            double trainLoss = epochCount > 0 ? epochLoss / epochCount : double.NaN;
            history.Add(new EpochSummary(epoch, step, trainLoss, Optimizer.LearningRate, val, clock.Elapsed));
            Emit(ProgressKind.EpochEnd, epoch, step, totalSteps, trainLoss, gradNorm, items, clock, val, null);

            if (val is not null)
            {
                if (val.IsBetterThan(best))
                {
                    best = val;
                    bestEpoch = epoch;
                    sinceBest = 0;
                    if (options.KeepBest) bestValues = parameters.Select(p => p.Value.ToArray()).ToArray();
                }
                else if (options.EarlyStoppingPatience is { } patience && ++sinceBest >= patience)
                {
                    reason = StopReason.EarlyStopped;
                }
            }
            if (options.MaxSteps is { } maxSteps && step >= maxSteps) break;
        }

        if (options.KeepBest && bestValues is not null)
            for (int i = 0; i < parameters.Count; i++) bestValues[i].CopyTo(parameters[i].Value.Span);
        model.Model.Training = false;
        return new TrainingResult(reason, step, skipped, history, best, bestEpoch, clock.Elapsed);
    }

    private void Emit(ProgressKind kind, int epoch, long step, long? total, double loss, double gradNorm, double items, Stopwatch clock,
        Evaluation? val, string? message)
    {
        if (Progress is null) return;
        double seconds = Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        TimeSpan? eta = total is { } t && step > 0 && t > step ? TimeSpan.FromSeconds(seconds / step * (t - step)) : null;
        Progress(new TrainingProgress(kind, epoch, options.Epochs, step, total, loss, Optimizer.LearningRate, gradNorm,
            items / seconds, clock.Elapsed, eta, val, message));
    }
}
