namespace Recur.Optim;

/// <summary>
/// A learning-rate schedule. The trainer calls <see cref="OnStep"/> before every optimizer step and
/// <see cref="OnEpochEnd"/> after every epoch (with the validation metric when there is one), and sets the
/// optimizer's learning rate to what they return.
/// </summary>
public abstract class LrSchedule
{
    /// <summary>Creates the schedule around a base learning rate.</summary>
    protected LrSchedule(float baseLearningRate)
    {
        if (!(baseLearningRate >= 0f) || !float.IsFinite(baseLearningRate))
            throw new ArgumentOutOfRangeException(nameof(baseLearningRate), baseLearningRate, "base learning rate must be finite and >= 0");
        BaseLearningRate = baseLearningRate;
        Current = baseLearningRate;
    }

    /// <summary>The learning rate the schedule starts from.</summary>
    public float BaseLearningRate { get; }

    /// <summary>The learning rate now.</summary>
    public float Current { get; protected set; }

    /// <summary>Before optimizer step <paramref name="step"/> (counting from 1). Returns the rate for that step.</summary>
    public virtual float OnStep(long step) => Current;

    /// <summary>After epoch <paramref name="epoch"/> (counting from 1), with the validation metric (lower is better) if any.</summary>
    public virtual float OnEpochEnd(int epoch, double? validationLoss) => Current;

    /// <summary>The schedule's state for checkpoints: the current rate, then whatever the schedule keeps.</summary>
    public virtual double[] GetState() => [Current];

    /// <summary>Restores a state from <see cref="GetState"/>.</summary>
    public virtual void SetState(ReadOnlySpan<double> state)
    {
        if (state.Length < 1) throw new ArgumentException("expected the current learning rate in the schedule state", nameof(state));
        Current = (float)state[0];
    }

    /// <summary>A constant rate.</summary>
    public static LrSchedule Constant(float lr) => new ConstantSchedule(lr);

    private sealed class ConstantSchedule(float lr) : LrSchedule(lr);
}

/// <summary>
/// Step decay: the base rate for the first <c>decayStart</c> epochs, then multiplied by <c>gamma</c> at the start of
/// epoch <c>decayStart + 1</c> and every <c>stepSize</c> epochs after it. Epoch e (from 1) runs at
/// <c>base * gamma^k</c> with k = 0 for e &lt;= decayStart, else floor((e - 1 - decayStart) / stepSize) + 1.
/// With <c>decayStart = stepSize</c> (the default) this is <c>torch.optim.lr_scheduler.StepLR</c>; with
/// <c>stepSize = 1</c> it is the word-LM recipe of Zaremba et al. (2014): lr 1 for 4 epochs, then halved every epoch.
/// </summary>
public sealed class StepSchedule : LrSchedule
{
    private readonly int stepSize, decayStart;
    private readonly float gamma;

    /// <summary>Creates the schedule.</summary>
    /// <param name="baseLearningRate">The rate of the first epochs.</param>
    /// <param name="stepSize">Epochs between two decays.</param>
    /// <param name="gamma">The factor of each decay, in (0, 1].</param>
    /// <param name="decayStart">Epochs at the base rate before the first decay (null: <paramref name="stepSize"/>).</param>
    public StepSchedule(float baseLearningRate, int stepSize, float gamma = 0.1f, int? decayStart = null) : base(baseLearningRate)
    {
        if (stepSize < 1) throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "stepSize must be >= 1 epoch");
        if (!(gamma > 0f && gamma <= 1f)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "gamma must be in (0, 1]");
        if (decayStart is < 1) throw new ArgumentOutOfRangeException(nameof(decayStart), decayStart, "decayStart must be >= 1 epoch");
        this.stepSize = stepSize;
        this.gamma = gamma;
        this.decayStart = decayStart ?? stepSize;
    }

    /// <summary>The rate of epoch <paramref name="epoch"/> (from 1).</summary>
    public float RateOfEpoch(int epoch) =>
        epoch <= decayStart ? BaseLearningRate : BaseLearningRate * MathF.Pow(gamma, (epoch - 1 - decayStart) / stepSize + 1);

    /// <inheritdoc/>
    public override float OnEpochEnd(int epoch, double? validationLoss) => Current = RateOfEpoch(epoch + 1);
}

/// <summary>As <c>torch.optim.lr_scheduler.ExponentialLR</c>: multiply by <c>gamma</c> every epoch.</summary>
public sealed class ExponentialSchedule : LrSchedule
{
    private readonly float gamma;

    /// <summary>Creates the schedule.</summary>
    public ExponentialSchedule(float baseLearningRate, float gamma) : base(baseLearningRate)
    {
        if (!(gamma > 0f && gamma <= 1f)) throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "gamma must be in (0, 1]");
        this.gamma = gamma;
    }

    /// <inheritdoc/>
    public override float OnEpochEnd(int epoch, double? validationLoss) => Current = BaseLearningRate * MathF.Pow(gamma, epoch);
}

/// <summary>
/// Linear warm-up from 0 to the base rate over <c>warmupSteps</c>, then cosine decay to <c>minLearningRate</c> at
/// <c>totalSteps</c> (and flat after): lr = min + (base - min) (1 + cos(pi p)) / 2 with p the fraction of decay done.
/// </summary>
public sealed class CosineWarmupSchedule : LrSchedule
{
    private readonly long warmupSteps, totalSteps;
    private readonly float minLearningRate;

    /// <summary>Creates the schedule.</summary>
    public CosineWarmupSchedule(float baseLearningRate, long warmupSteps, long totalSteps, float minLearningRate = 0f) : base(baseLearningRate)
    {
        if (warmupSteps < 0) throw new ArgumentOutOfRangeException(nameof(warmupSteps), warmupSteps, "warmupSteps must be >= 0");
        if (totalSteps <= warmupSteps) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, $"totalSteps must be > warmupSteps ({warmupSteps})");
        if (!(minLearningRate >= 0f && minLearningRate <= baseLearningRate))
            throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate, $"minLearningRate must be in [0, {baseLearningRate}]");
        this.warmupSteps = warmupSteps;
        this.totalSteps = totalSteps;
        this.minLearningRate = minLearningRate;
        Current = warmupSteps > 0 ? 0f : baseLearningRate;
    }

    /// <inheritdoc/>
    public override float OnStep(long step)
    {
        if (step <= warmupSteps) return Current = BaseLearningRate * step / warmupSteps;
        double p = Math.Min(1.0, (double)(step - warmupSteps) / (totalSteps - warmupSteps));
        return Current = (float)(minLearningRate + (BaseLearningRate - minLearningRate) * (1 + Math.Cos(Math.PI * p)) / 2);
    }
}

/// <summary>
/// As <c>torch.optim.lr_scheduler.ReduceLROnPlateau</c> (mode min, relative threshold): when the validation loss has
/// not improved on the best by more than <c>threshold</c> (relative) for <c>patience</c> epochs, multiply the rate by
/// <c>factor</c>, not below <c>minLearningRate</c>.
/// </summary>
public sealed class ReduceOnPlateauSchedule : LrSchedule
{
    private readonly float factor, threshold, minLearningRate;
    private readonly int patience;
    private double best = double.PositiveInfinity;
    private int bad;

    /// <summary>Creates the schedule.</summary>
    public ReduceOnPlateauSchedule(float baseLearningRate, float factor = 0.1f, int patience = 10, float threshold = 1e-4f, float minLearningRate = 0f)
        : base(baseLearningRate)
    {
        if (!(factor > 0f && factor < 1f)) throw new ArgumentOutOfRangeException(nameof(factor), factor, "factor must be in (0, 1)");
        if (patience < 0) throw new ArgumentOutOfRangeException(nameof(patience), patience, "patience must be >= 0");
        this.factor = factor;
        this.patience = patience;
        this.threshold = threshold;
        this.minLearningRate = minLearningRate;
    }

    /// <inheritdoc/>
    public override double[] GetState() => [Current, best, bad];

    /// <inheritdoc/>
    public override void SetState(ReadOnlySpan<double> state)
    {
        if (state.Length != 3) throw new ArgumentException($"expected 3 values (rate, best, bad epochs) in the plateau schedule state, found {state.Length}", nameof(state));
        base.SetState(state);
        best = state[1];
        bad = checked((int)state[2]);
    }

    /// <inheritdoc/>
    public override float OnEpochEnd(int epoch, double? validationLoss)
    {
        if (validationLoss is not { } v || double.IsNaN(v)) return Current;
        if (v < best * (1 - threshold))
        {
            best = v;
            bad = 0;
        }
        else if (++bad > patience)
        {
            Current = Math.Max(minLearningRate, Current * factor);
            bad = 0;
        }
        return Current;
    }
}
