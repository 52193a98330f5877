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
    private readonly StateBuffer sq, avg, buf;

    /// <summary>Creates the optimizer.</summary>
    public RmsProp(IEnumerable<Parameter> parameters, float learningRate = 1e-2f, float alpha = 0.99f, float eps = 1e-8f,
        float weightDecay = 0f, float momentum = 0f, bool centered = false) : base(parameters, learningRate)
    {
        Alpha = Check(alpha, nameof(alpha), 0f, 1f);
        Eps = Check(eps, nameof(eps), 0f, float.MaxValue);
        WeightDecay = Check(weightDecay, nameof(weightDecay), 0f, float.MaxValue);
        Momentum = Check(momentum, nameof(momentum), 0f, 1f);
        Centered = centered;
        sq = NewState();
        avg = NewState();
        buf = NewState();
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
    protected override void Update(int first, int count, Span<float> p, ReadOnlySpan<float> grad, long step)
    {
        Span<float> s = sq.Get(first, count);
        bool centered = Centered, momentum = Momentum > 0f;
        Span<float> a = centered ? avg.Get(first, count) : default;
        Span<float> b = momentum ? buf.Get(first, count) : default;
        float lr = LearningRate, al = Alpha, eps = Eps, wd = WeightDecay, mu = Momentum;
        for (int i = 0; i < p.Length; i++)
        {
            float g = grad[i] + wd * p[i];
            s[i] = al * s[i] + (1 - al) * g * g;
            float denom;
            if (centered)
            {
                a[i] = al * a[i] + (1 - al) * g;
                denom = MathF.Sqrt(s[i] - a[i] * a[i]) + eps;
            }
            else denom = MathF.Sqrt(s[i]) + eps;
            if (momentum)
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
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (sq.Has(i)) yield return ("square_avg", i, sq.Copy(i));
            if (avg.Has(i)) yield return ("grad_avg", i, avg.Copy(i));
            if (buf.Has(i)) yield return ("momentum_buffer", i, buf.Copy(i));
        }
    }

    /// <inheritdoc/>
    protected override Span<float> Buffer(string name, int index) => name switch
    {
        "square_avg" => sq.Get(index, 1),
        "grad_avg" => avg.Get(index, 1),
        "momentum_buffer" => buf.Get(index, 1),
        _ => throw new ArgumentException($"RMSprop keeps 'square_avg', 'grad_avg' and 'momentum_buffer', not '{name}'", nameof(name)),
    };
}
