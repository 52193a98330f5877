using Recur.Tensors;

namespace Recur.Optim;

/// <summary>
/// Stochastic gradient descent as <c>torch.optim.SGD</c>:
/// <code>
/// g = grad + weightDecay * p
/// buf = g                                   (first step)
/// buf = momentum * buf + (1 - dampening) * g (later steps)
/// g = nesterov ? g + momentum * buf : buf     (when momentum != 0)
/// p = p - lr * g
/// </code>
/// </summary>
public sealed class Sgd : Optimizer
{
    private float[]?[] momentumBuffers;

    /// <summary>Creates the optimizer.</summary>
    public Sgd(IEnumerable<Parameter> parameters, float learningRate, float momentum = 0f, float dampening = 0f,
        float weightDecay = 0f, bool nesterov = false) : base(parameters, learningRate)
    {
        Momentum = Check(momentum, nameof(momentum), 0f, 1f);
        Dampening = Check(dampening, nameof(dampening), 0f, 1f);
        WeightDecay = Check(weightDecay, nameof(weightDecay), 0f, float.MaxValue);
        if (nesterov && (momentum <= 0f || dampening != 0f))
            throw new ArgumentException("Nesterov momentum needs momentum > 0 and dampening = 0", nameof(nesterov));
        Nesterov = nesterov;
        momentumBuffers = Slots();
    }

    /// <summary>Momentum factor.</summary>
    public float Momentum { get; }
    /// <summary>Dampening of the momentum.</summary>
    public float Dampening { get; }
    /// <summary>L2 penalty added to the gradient.</summary>
    public float WeightDecay { get; }
    /// <summary>Nesterov momentum.</summary>
    public bool Nesterov { get; }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> p, ReadOnlySpan<float> grad, long step)
    {
        float lr = LearningRate, wd = WeightDecay, mu = Momentum, damp = 1f - Dampening;
        float[]? buf = null;
        bool first = false;
        if (mu != 0f)
        {
            buf = momentumBuffers[index];
            first = buf is null; // PyTorch starts the buffer at the first gradient, not at zero
            buf ??= momentumBuffers[index] = new float[p.Length];
        }
        for (int i = 0; i < p.Length; i++)
        {
            float g = grad[i] + wd * p[i];
            if (buf is not null)
            {
                buf[i] = first ? g : mu * buf[i] + damp * g;
                g = Nesterov ? g + mu * buf[i] : buf[i];
            }
            p[i] -= lr * g;
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, int Index, float[] Values)> StateBuffers()
    {
        for (int i = 0; i < momentumBuffers.Length; i++)
            if (momentumBuffers[i] is { } b) yield return ("momentum_buffer", i, b);
    }

    /// <inheritdoc/>
    protected override float[] Buffer(string name, int index, int length) => name switch
    {
        "momentum_buffer" => momentumBuffers[index] ??= new float[length],
        _ => throw new ArgumentException($"SGD keeps 'momentum_buffer', not '{name}'", nameof(name)),
    };
}
