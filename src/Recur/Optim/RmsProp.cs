using Recur.Tensors;

namespace Recur.Optim;

/// <summary>
/// RMSprop as <c>torch.optim.RMSprop</c>:
/// <code>
/// g = grad + weightDecay * p
/// v = alpha * v + (1 - alpha) * g^2
/// centered: a = alpha * a + (1 - alpha) * g,  denom = sqrt(v - a^2) + eps   else denom = sqrt(v) + eps
/// momentum &gt; 0: buf = momentum * buf + g / denom,  p = p - lr * buf      else p = p - lr * g / denom
/// </code>
/// </summary>
public sealed class RmsProp : Optimizer
{
    private float[]?[] sq, avg, buf;

    /// <summary>Creates the optimizer.</summary>
    public RmsProp(IEnumerable<Parameter> parameters, float learningRate = 1e-2f, float alpha = 0.99f, float eps = 1e-8f,
        float weightDecay = 0f, float momentum = 0f, bool centered = false) : base(parameters, learningRate)
    {
        Alpha = Check(alpha, nameof(alpha), 0f, 1f);
        Eps = Check(eps, nameof(eps), 0f, float.MaxValue);
        WeightDecay = Check(weightDecay, nameof(weightDecay), 0f, float.MaxValue);
        Momentum = Check(momentum, nameof(momentum), 0f, 1f);
        Centered = centered;
        sq = Slots();
        avg = Slots();
        buf = Slots();
    }

    /// <summary>Smoothing constant.</summary>
    public float Alpha { get; }
    /// <summary>Added to the denominator.</summary>
    public float Eps { get; }
    /// <summary>L2 penalty added to the gradient.</summary>
    public float WeightDecay { get; }
    /// <summary>Momentum factor.</summary>
    public float Momentum { get; }
    /// <summary>Normalise by the variance instead of the second moment.</summary>
    public bool Centered { get; }

    /// <inheritdoc/>
    protected override void Update(int index, Span<float> p, ReadOnlySpan<float> grad, long step)
    {
        float[] s = State(ref sq, index, p.Length);
        float[]? a = Centered ? State(ref avg, index, p.Length) : null;
        float[]? b = Momentum > 0f ? State(ref buf, index, p.Length) : null;
        float lr = LearningRate, al = Alpha, eps = Eps, wd = WeightDecay, mu = Momentum;
        for (int i = 0; i < p.Length; i++)
        {
            float g = grad[i] + wd * p[i];
            s[i] = al * s[i] + (1 - al) * g * g;
            float denom;
            if (a is not null)
            {
                a[i] = al * a[i] + (1 - al) * g;
                denom = MathF.Sqrt(s[i] - a[i] * a[i]) + eps;
            }
            else denom = MathF.Sqrt(s[i]) + eps;
            if (b is not null)
            {
                b[i] = mu * b[i] + g / denom;
                p[i] -= lr * b[i];
            }
            else p[i] -= lr * g / denom;
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, int Index, float[] Values)> StateBuffers()
    {
        for (int i = 0; i < sq.Length; i++)
        {
            if (sq[i] is { } x) yield return ("square_avg", i, x);
            if (avg[i] is { } y) yield return ("grad_avg", i, y);
            if (buf[i] is { } z) yield return ("momentum_buffer", i, z);
        }
    }

    /// <inheritdoc/>
    protected override float[] Buffer(string name, int index, int length) => name switch
    {
        "square_avg" => State(ref sq, index, length),
        "grad_avg" => State(ref avg, index, length),
        "momentum_buffer" => State(ref buf, index, length),
        _ => throw new ArgumentException($"RMSprop keeps 'square_avg', 'grad_avg' and 'momentum_buffer', not '{name}'", nameof(name)),
    };
}
