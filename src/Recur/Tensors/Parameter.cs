
namespace Recur.Tensors;

/// <summary>A trainable tensor and the gradient accumulated into it by backward passes.</summary>
public sealed class Parameter
{
    internal Parameter(string name, int[] shape)
    {
        Name = name;
        Value = new Tensor(shape);
        Grad = new Tensor(shape);
    }

    /// <summary>The name inside its module, in PyTorch's spelling (e.g. <c>weight_ih_l0</c>).</summary>
    public string Name { get; }

    /// <summary>The values.</summary>
    public Tensor Value { get; }

    /// <summary>The gradient; backward passes add to it (<c>+=</c>), <c>Module.ZeroGrad</c> (Recur.Nn) clears it.</summary>
    public Tensor Grad { get; }

    /// <inheritdoc/>
    public override string ToString() => $"{Name} {Tensor.ShapeString(Value.Shape)}";
}
