using Recur.Tensors;

namespace Recur.Optim;

/// <summary>
/// Adagrad as <c>torch.optim.Adagrad</c>:
/// <code>
/// clr = lr / (1 + (t - 1) * lrDecay)
/// g = grad + weightDecay * p
/// sum = sum + g^2           (sum starts at initialAccumulatorValue)
/// p = p - clr * g / (sqrt(sum) + eps)
/// </code>
/// </summary>
public sealed class Adagrad : Optimizer
{
    private readonly StateBuffer sums;

    /// <summary>Creates the optimizer.</summary>
    public Adagrad(IEnumerable<Parameter> parameters, float learningRate = 1e-2f, float lrDecay = 0f, float weightDecay = 0f,
        float initialAccumulatorValue = 0f, float eps = 1e-10f) : base(parameters, learningRate)
    {
        LrDecay = Check(lrDecay, nameof(lrDecay), 0f, float.MaxValue);
        WeightDecay = Check(weightDecay, nameof(weightDecay), 0f, float.MaxValue);
        InitialAccumulatorValue = Check(initialAccumulatorValue, nameof(initialAccumulatorValue), 0f, float.MaxValue);
        Eps = Check(eps, nameof(eps), 0f, float.MaxValue);
        sums = NewState(InitialAccumulatorValue);
    }

    /// <summary>Learning-rate decay per step.</summary>
    public float LrDecay { get; }
    /// <summary>L2 penalty added to the gradient.</summary>
    public float WeightDecay { get; }
    /// <summary>Starting value of the squared-gradient sum.</summary>
    public float InitialAccumulatorValue { get; }
    /// <summary>Added to the denominator.</summary>
    public float Eps { get; }

    /// <inheritdoc/>
    protected override void Update(int first, int count, Span<float> p, ReadOnlySpan<float> grad, long step)
    {
        Span<float> s = sums.Get(first, count);
        float clr = (float)(LearningRate / (1 + (step - 1) * (double)LrDecay));
        float wd = WeightDecay, eps = Eps;
        for (int i = 0; i < p.Length; i++)
        {
            float g = grad[i] + wd * p[i];
            s[i] += g * g;
            p[i] -= clr * g / (MathF.Sqrt(s[i]) + eps);
        }
    }

    /// <inheritdoc/>
    public override IEnumerable<(string Name, int Index, float[] Values)> StateBuffers()
    {
        for (int i = 0; i < Parameters.Count; i++)
            if (sums.Has(i)) yield return ("sum", i, sums.Copy(i));
    }

    /// <inheritdoc/>
    protected override Span<float> Buffer(string name, int index) => name switch
    {
        "sum" => sums.Get(index, 1),
        _ => throw new ArgumentException($"Adagrad keeps 'sum', not '{name}'", nameof(name)),
    };
}
