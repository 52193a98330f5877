using Recur.Tensors;

namespace Recur.Optim;

/// <summary>
/// Base of the optimizers: owns its state per instance (no static state), updates <see cref="Parameter.Value"/>
/// from <see cref="Parameter.Grad"/> in <see cref="Step"/>. Formulas follow PyTorch's documentation, including
/// its step counting (the first step is step 1) and where weight decay enters.
/// </summary>
public abstract class Optimizer
{
    private readonly Parameter[] parameters;

    /// <summary>Creates the optimizer over <paramref name="parameters"/> with learning rate <paramref name="learningRate"/>.</summary>
    protected Optimizer(IEnumerable<Parameter> parameters, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        this.parameters = parameters.ToArray();
        if (this.parameters.Length == 0) throw new ArgumentException("an optimizer needs at least one parameter", nameof(parameters));
        if (this.parameters.Distinct().Count() != this.parameters.Length)
            throw new ArgumentException("a parameter appears twice", nameof(parameters));
        LearningRate = learningRate;
    }

    /// <summary>The parameters updated, in order.</summary>
    public IReadOnlyList<Parameter> Parameters => parameters;

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
            var slot = Buffer(name, index, values.Length);
            values.CopyTo(slot, 0);
        }
        StepCount = stepCount;
    }

    /// <summary>The state buffer <paramref name="name"/> of parameter <paramref name="index"/>, allocated if needed
    /// (for <see cref="LoadState"/>); unknown names are an error naming the ones this optimizer keeps.</summary>
    protected abstract float[] Buffer(string name, int index, int length);

    /// <summary>Applies one update to every parameter from its current gradient.</summary>
    public void Step()
    {
        StepCount++;
        for (int i = 0; i < parameters.Length; i++)
            Update(i, parameters[i].Value.Span, parameters[i].Grad.Span, StepCount);
    }

    /// <summary>Sets every gradient to zero.</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters) p.Grad.Span.Clear();
    }

    /// <summary>Updates parameter <paramref name="index"/>; <paramref name="step"/> counts from 1.</summary>
    protected abstract void Update(int index, Span<float> value, ReadOnlySpan<float> grad, long step);

    /// <summary>A per-parameter state buffer of the parameter's size, zero-initialised on first use.</summary>
    protected static float[] State(ref float[]?[] slots, int index, int length, float initial = 0f)
    {
        var s = slots[index];
        if (s is null)
        {
            s = new float[length];
            if (initial != 0f) Array.Fill(s, initial);
            slots[index] = s;
        }
        return s;
    }

    /// <summary>Per-parameter state slots, one per parameter.</summary>
    protected float[]?[] Slots() => new float[]?[parameters.Length];

    /// <summary>Checks a hyperparameter is finite and in range.</summary>
    protected static float Check(float value, string name, float min, float max, bool minInclusive = true)
    {
        bool ok = float.IsFinite(value) && (minInclusive ? value >= min : value > min) && value <= max;
        if (!ok) throw new ArgumentOutOfRangeException(name, value, $"{name} must be in {(minInclusive ? "[" : "(")}{min}, {max}]");
        return value;
    }

    /// <summary>Named state tensors for checkpoints: name, parameter index, values.</summary>
    public abstract IEnumerable<(string Name, int Index, float[] Values)> StateBuffers();
}
