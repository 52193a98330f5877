using Recur.Tensors;

namespace Recur.Optim;

/// <summary>
/// Adam as <c>torch.optim.Adam</c> (and, with <c>decoupled</c>, AdamW as <c>torch.optim.AdamW</c>):
/// <code>
/// Adam : g = grad + weightDecay * p                  AdamW: p = p * (1 - lr * weightDecay), g = grad
/// m = beta1 * m + (1 - beta1) * g
/// v = beta2 * v + (1 - beta2) * g^2
/// p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
/// </code>
/// </summary>
public class Adam : Optimizer
{
    private readonly StateBuffer m, v;

    /// <summary>Creates Adam (L2 weight decay added to the gradient).</summary>
    public Adam(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
        float eps = 1e-8f, float weightDecay = 0f) : this(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: false)
    {
    }

    private protected Adam(IEnumerable<Parameter> parameters, float learningRate, float beta1, float beta2, float eps,
        float weightDecay, bool decoupled) : base(parameters, learningRate)
    {
        Beta1 = Check(beta1, nameof(beta1), 0f, 1f);
        Beta2 = Check(beta2, nameof(beta2), 0f, 1f);
        if (beta1 >= 1f) throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1)");
        if (beta2 >= 1f) throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1)");
        Eps = Check(eps, nameof(eps), 0f, float.MaxValue);
        WeightDecay = Check(weightDecay, nameof(weightDecay), 0f, float.MaxValue);
        Decoupled = decoupled;
        m = NewState();
        v = NewState();
    }

    /// <summary>Decay of the first moment.</summary>
    public float Beta1 { get; }
    /// <summary>Decay of the second moment.</summary>
    public float Beta2 { get; }
    /// <summary>Added to the denominator.</summary>
    public float Eps { get; }
    /// <summary>Weight decay: L2 on the gradient (Adam) or decoupled (AdamW).</summary>
    public float WeightDecay { get; }
    /// <summary>Whether weight decay is decoupled from the gradient (AdamW).</summary>
    public bool Decoupled { get; }

    /// <inheritdoc/>
    protected override void Update(int first, int count, Span<float> p, ReadOnlySpan<float> grad, long step)
    {
        Span<float> mi = m.Get(first, count), vi = v.Get(first, count);
        double lr = LearningRate;
        double bc1 = 1 - Math.Pow(Beta1, step), bc2 = 1 - Math.Pow(Beta2, step);
        float stepSize = (float)(lr / bc1);
        float bc2Sqrt = (float)Math.Sqrt(bc2);
        float b1 = Beta1, b2 = Beta2, eps = Eps, wd = WeightDecay;
        bool decoupled = Decoupled;
        float decay = decoupled ? (float)(1 - lr * wd) : 1f;
        for (int i = 0; i < p.Length; i++)
        {
            float g = grad[i];
            if (decoupled) p[i] *= decay;
            else g += wd * p[i];
            mi[i] = b1 * mi[i] + (1 - b1) * g;
            vi[i] = b2 * vi[i] + (1 - b2) * g * g;
            float denom = MathF.Sqrt(vi[i]) / bc2Sqrt + eps;
            p[i] -= stepSize * mi[i] / denom;
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, int Index, float[] Values)> StateBuffers()
    {
        for (int i = 0; i < Parameters.Count; i++)
        {
            if (m.Has(i)) yield return ("exp_avg", i, m.Copy(i));
            if (v.Has(i)) yield return ("exp_avg_sq", i, v.Copy(i));
        }
    }

    /// <inheritdoc/>
    protected override Span<float> Buffer(string name, int index) => name switch
    {
        "exp_avg" => m.Get(index, 1),
        "exp_avg_sq" => v.Get(index, 1),
        _ => throw new ArgumentException($"Adam keeps 'exp_avg' and 'exp_avg_sq', not '{name}'", nameof(name)),
    };
}

/// <summary>AdamW as <c>torch.optim.AdamW</c>: Adam with decoupled weight decay (default 0.01). See <see cref="Adam"/>.</summary>
public sealed class AdamW(IEnumerable<Parameter> parameters, float learningRate = 1e-3f, float beta1 = 0.9f, float beta2 = 0.999f,
    float eps = 1e-8f, float weightDecay = 0.01f)
    : Adam(parameters, learningRate, beta1, beta2, eps, weightDecay, decoupled: true);
