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
    private readonly StateBuffer momentumBuffers;

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
        momentumBuffers = NewState();
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
    protected override void Update(int first, int count, Span<float> p, ReadOnlySpan<float> grad, long step)
    {
        float lr = LearningRate, wd = WeightDecay, mu = Momentum, damp = 1f - Dampening;
        bool nesterov = Nesterov;
        if (mu == 0f)
        {
            for (int i = 0; i < p.Length; i++) p[i] -= lr * (grad[i] + wd * p[i]);
            return;
        }
        // PyTorch starts a momentum buffer at the first gradient, not at zero: the run must be all fresh or all started.
        if (momentumBuffers.AllOrNone(first, count) is not { } started)
        {
            for (int k = first; k < first + count; k++)
            {
                int at = StateOffset(k) - StateOffset(first), n = StateOffset(k + 1) - StateOffset(k);
                Update(k, 1, p.Slice(at, n), grad.Slice(at, n), step);
            }
            return;
        }
        bool fresh = !started;
        var buf = momentumBuffers.Get(first, count);
        for (int i = 0; i < p.Length; i++)
        {
            float g = grad[i] + wd * p[i];
            buf[i] = fresh ? g : mu * buf[i] + damp * g;
            g = nesterov ? g + mu * buf[i] : buf[i];
            p[i] -= lr * g;
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, int Index, float[] Values)> StateBuffers()
    {
        for (int i = 0; i < Parameters.Count; i++)
            if (momentumBuffers.Has(i)) yield return ("momentum_buffer", i, momentumBuffers.Copy(i));
    }

    /// <inheritdoc/>
    protected override Span<float> Buffer(string name, int index) => name switch
    {
        "momentum_buffer" => momentumBuffers.Get(index, 1),
        _ => throw new ArgumentException($"SGD keeps 'momentum_buffer', not '{name}'", nameof(name)),
    };
}
