using Recur.Tensors;

namespace Recur.Optim;

/// <summary>
/// Base of the optimizers: owns its state per instance (no static state), updates <see cref="Parameter.Value"/>
/// from <see cref="Parameter.Grad"/> in <see cref="Step"/>. Formulas follow PyTorch's documentation, including
/// its step counting (the first step is step 1) and where weight decay enters.
/// </summary>
/// <remarks>
/// The parameters are gathered into one <see cref="ParameterArena"/> when the optimizer is created (unless they already
/// form one, in this order), and every state buffer (a moment, a momentum buffer) is one array with the same layout.
/// <see cref="Step"/> is then one <see cref="Update"/> over the whole arena. Should a parameter later be gathered into
/// another arena (another optimizer over an overlapping list, say), the step falls back to one update per parameter,
/// with the same results.
/// </remarks>
public abstract class Optimizer
{
    private readonly Parameter[] parameters;
    private readonly int[] offsets; // offsets[i]: where parameter i's state starts; offsets[^1]: total length
    private readonly ParameterArena arena;

    /// <summary>Creates the optimizer over <paramref name="parameters"/> with learning rate <paramref name="learningRate"/>.</summary>
    protected Optimizer(IEnumerable<Parameter> parameters, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        this.parameters = parameters.ToArray();
        if (this.parameters.Length == 0) throw new ArgumentException("an optimizer needs at least one parameter", nameof(parameters));
        if (this.parameters.Distinct().Count() != this.parameters.Length)
            throw new ArgumentException("a parameter appears twice", nameof(parameters));
        LearningRate = learningRate;
        arena = ParameterArena.Exact(this.parameters) ?? ParameterArena.Create(this.parameters);
        offsets = new int[this.parameters.Length + 1];
        for (int i = 0; i < this.parameters.Length; i++) offsets[i + 1] = offsets[i] + this.parameters[i].Value.Length;
    }

    /// <summary>The parameters updated, in order.</summary>
    public IReadOnlyList<Parameter> Parameters => parameters;

    /// <summary>
    /// The arena that holds exactly <see cref="Parameters"/>, in order, while it does (null once one of them was
    /// gathered elsewhere). Clipping and finiteness checks over it are one span loop each.
    /// </summary>
    public ParameterArena? Arena => arena.IsIntact ? arena : null;

    /// <summary>Learning rate; schedules change it between steps. Must be finite and non-negative.</summary>
    public float LearningRate
    {
        get;
        set
        {
            if (!(value >= 0f && float.IsFinite(value)))
                throw new ArgumentOutOfRangeException(nameof(value), value, "learning rate must be finite and >= 0");
            field = value;
        }
    }

    /// <summary>Steps taken so far.</summary>
    public long StepCount { get; private set; }

    /// <summary>
    /// Restores the state of a checkpoint: the step count and every buffer named by <see cref="StateBuffers"/> (name,
    /// parameter index, values). Buffers not given stay as they are (unallocated buffers start at their initial value).
    /// </summary>
    public void LoadState(long stepCount, IEnumerable<(string Name, int Index, float[] Values)> buffers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stepCount);
        ArgumentNullException.ThrowIfNull(buffers);
        foreach (var (name, index, values) in buffers)
        {
            if ((uint)index >= (uint)parameters.Length)
                throw new ArgumentException($"optimizer state '{name}' is for parameter {index}, but there are {parameters.Length}", nameof(buffers));
            if (values.Length != parameters[index].Value.Length)
                throw new ArgumentException($"optimizer state '{name}' of parameter {index} has {values.Length} values, expected {parameters[index].Value.Length}", nameof(buffers));
            values.CopyTo(Buffer(name, index));
        }
        StepCount = stepCount;
    }

    /// <summary>The state buffer <paramref name="name"/> of parameter <paramref name="index"/>, created if needed
    /// (for <see cref="LoadState"/>); unknown names are an error naming the ones this optimizer keeps.</summary>
    protected abstract Span<float> Buffer(string name, int index);

    /// <summary>
    /// Applies one update to every parameter from its current gradient: one <see cref="Update"/> over the arena's
    /// spans, or one per parameter when the arena is no longer intact.
    /// </summary>
    public void Step()
    {
        StepCount++;
        if (Arena is { } a) Update(0, parameters.Length, a.Values, a.Grads, StepCount);
        else
            for (int i = 0; i < parameters.Length; i++)
                Update(i, 1, parameters[i].Value.Span, parameters[i].Grad.Span, StepCount);
    }

    /// <summary>Sets every gradient to zero: one clear of the arena's gradients, or one per parameter.</summary>
    public void ZeroGrad()
    {
        if (Arena is { } a) a.ZeroGrad();
        else foreach (var p in parameters) p.Grad.Span.Clear();
    }

    /// <summary>
    /// Updates parameters [<paramref name="first"/>, <paramref name="first"/> + <paramref name="count"/>), whose
    /// values and gradients lie back to back in <paramref name="value"/> and <paramref name="grad"/> (element
    /// <c>j</c> of them is element <c>StateOffset(first) + j</c> of the state layout); <paramref name="step"/>
    /// counts from 1. Every element's update depends on that element alone, so one call over the whole arena and one
    /// call per parameter give the same bits.
    /// </summary>
    protected abstract void Update(int first, int count, Span<float> value, ReadOnlySpan<float> grad, long step);

    /// <summary>Where parameter <paramref name="index"/> starts in the state layout (its offset in the arena).</summary>
    protected int StateOffset(int index) => offsets[index];

    /// <summary>Number of values of all parameters together: the length of each state buffer.</summary>
    protected int StateLength => offsets[^1];

    /// <summary>A state buffer for every parameter, laid out as the arena, created per parameter on first use at <paramref name="initial"/>.</summary>
    private protected StateBuffer NewState(float initial = 0f) => new(offsets, initial);

    /// <summary>Checks a hyperparameter is finite and in range.</summary>
    protected static float Check(float value, string name, float min, float max, bool minInclusive = true)
    {
        bool ok = float.IsFinite(value) && (minInclusive ? value >= min : value > min) && value <= max;
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} must be in {(minInclusive ? "[" : "(")}{min}, {max}]");
        return value;
    }

    /// <summary>Named state tensors for checkpoints: name, parameter index, values (copies).</summary>
    public abstract IEnumerable<(string Name, int Index, float[] Values)> StateBuffers();
}
