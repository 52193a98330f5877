namespace Recur.Kernels.Recurrent;

/// <summary>
/// How the recurrent engine schedules its work. These settings change speed only, never results beyond float
/// rounding: rows are independent, so how a step is cut into blocks does not change what each row computes.
/// Immutable; give a layer a new instance (<c>Recurrent.Engine</c>) to change them.
/// </summary>
public sealed record RecurrentEngineOptions
{
    private readonly double fusedMax = 8e6;

    /// <summary>The defaults, measured on a 2-core Zen 3.</summary>
    public static RecurrentEngineOptions Default { get; } = new();

    /// <summary>
    /// Multiply-adds in one time step's recurrent product (rows * G * H * H) above which the step runs as one block
    /// whose product and gate kernel parallelise internally by column tiles (reading W_hh once in all) instead of
    /// as parallel row blocks that each do their own product and gates (one dispatch per step). Default 8e6.
    /// </summary>
    /// <remarks>Measured A/B on a 2-core Zen 3 (min of 40 runs): LSTM B=32 H=128 forward 4.4 ms unfused vs 3.3 ms
    /// fused; B=64 H=512 (67M) equal either way, so large steps keep the column-split product.</remarks>
    public double FusedMax
    {
        get => fusedMax;
        init
        {
            if (double.IsNaN(value) || value < 0)
                throw new ArgumentOutOfRangeException(nameof(FusedMax), value, "FusedMax must be a number >= 0");
            fusedMax = value;
        }
    }

    /// <summary>
    /// How the forward time loop of each layer and direction is spread over the threads (<see cref="RecurrentStepSchedule"/>).
    /// <see cref="RecurrentStepSchedule.Auto"/> (the default) takes <see cref="RecurrentStepSchedule.BatchParallel"/>
    /// when every thread gets at least <see cref="BatchParallelMinRows"/> rows and more than 4 rows run, and
    /// <see cref="RecurrentStepSchedule.PerStep"/> otherwise (always with one thread). It never takes
    /// <see cref="RecurrentStepSchedule.HiddenBlocks"/>, which measured slower than per-step on every benchmark row;
    /// ask for it explicitly to compare. The backward pass of a layer and direction runs batch-parallel exactly when its
    /// forward did (whether Auto chose it or it was asked for), except with a gradient-flow observer, and per step
    /// otherwise.
    /// </summary>
    public RecurrentStepSchedule Schedule
    {
        get => schedule;
        init
        {
            if (!Enum.IsDefined(value))
                throw new ArgumentOutOfRangeException(nameof(Schedule), value, "Schedule must be Auto, PerStep, BatchParallel or HiddenBlocks");
            schedule = value;
        }
    }

    private readonly RecurrentStepSchedule schedule = RecurrentStepSchedule.Auto;

    /// <summary>
    /// Whether the backward pass runs batch-parallel where the forward did (true, the default); false keeps it per step
    /// whatever the forward ran. For the schedule benchmark's A/B of the backward alone; results are the same either way.
    /// </summary>
    internal bool BatchParallelBackward { get; init; } = true;

    /// <summary>The fewest rows per thread for which <see cref="RecurrentStepSchedule.Auto"/> takes the batch-parallel schedule.</summary>
    internal const int BatchParallelMinRows = 4;
}
