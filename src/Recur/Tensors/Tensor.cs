using System.Text;

namespace Recur.Tensors;

/// <summary>Something that recycles the memory of the tensors it hands out.</summary>
internal interface IBufferOwner
{
    bool IsReleased { get; }
}

/// <summary>
/// A dense, row-major float32 array with a shape. A tensor may be a view into a larger buffer
/// (a parameter inside the model's arena, say); <see cref="Span"/> is always exactly its elements.
/// </summary>
public sealed class Tensor
{
    private readonly int[] shape;

    /// <summary>Creates a zero-filled tensor of the given shape.</summary>
    public Tensor(params int[] shape)
    {
        this.shape = CheckShape(shape);
        Length = Count(this.shape);
        buffer_ = new float[Length];
    }

    private Tensor(float[] buffer, int offset, int[] shape, IBufferOwner? owner = null, VersionCounter? version = null)
    {
        this.version = version ?? new VersionCounter();
        this.shape = shape;
        Length = Count(shape);
        buffer_ = buffer;
        Offset = offset;
        this.owner = owner;
    }

    private float[] buffer_;
    private readonly IBufferOwner? owner;

    /// <summary>
    /// A view into memory that <paramref name="owner"/> recycles when it is disposed; the view then refuses access
    /// instead of showing whatever reuses the memory.
    /// </summary>
    internal static Tensor View(float[] buffer, int offset, int[] shape, IBufferOwner owner) => new(buffer, offset, (int[])shape.Clone(), owner);

    /// <summary>The storage this tensor views. Together with <see cref="Offset"/> it locates the elements.</summary>
    internal float[] Buffer
    {
        get
        {
            if (owner is { IsReleased: true })
                throw new ObjectDisposedException(nameof(Tensor),
                    $"this {ShapeString(shape)} tensor lived in the buffers of a {owner.GetType().Name} that has been disposed; Clone() results you keep");
            return buffer_;
        }
    }

    /// <summary>Index of the first element in <see cref="Buffer"/>.</summary>
    internal int Offset { get; private set; }

    /// <summary>The dimensions, outermost first.</summary>
    public ReadOnlySpan<int> Shape => shape;

    /// <summary>Number of dimensions.</summary>
    public int Rank => shape.Length;

    /// <summary>Number of elements.</summary>
    public int Length { get; }

    /// <summary>
    /// The elements, row-major. The span is writable, so taking it counts as a possible write: it advances
    /// <see cref="Version"/>.
    /// </summary>
    public Span<float> Span
    {
        get
        {
            var span = Buffer.AsSpan(Offset, Length);
            version.Value++;
            return span;
        }
    }

    /// <summary>The elements for reading inside the library; unlike <see cref="Span"/> it leaves <see cref="Version"/> alone.</summary>
    internal ReadOnlySpan<float> ReadOnly => Buffer.AsSpan(Offset, Length);

    /// <summary>
    /// Advances whenever the elements may have changed: every access that can write them (<see cref="Span"/>, the
    /// indexer's setter, a move to new storage, <see cref="MarkChanged"/>). Caches derived from the elements (the
    /// packed weights of a recurrent layer) compare it to know they are stale. A span taken before a call and
    /// written after it is not seen: take <see cref="Span"/> again, or call <see cref="MarkChanged"/>, after writing.
    /// </summary>
    public long Version => version.Value;
    private readonly VersionCounter version = new();

    /// <summary>Shared by a tensor and the views <see cref="Reshape"/> makes of it, so a write through either is seen.</summary>
    private sealed class VersionCounter
    {
        public long Value;
    }

    /// <summary>Records that the elements changed (advances <see cref="Version"/>), for writes through a span taken earlier.</summary>
    public void MarkChanged() => version.Value++;

    /// <summary>Size of dimension <paramref name="axis"/>; negative axes count from the end.</summary>
    public int Dim(int axis)
    {
        int a = axis < 0 ? axis + shape.Length : axis;
        if ((uint)a >= (uint)shape.Length)
            throw new ArgumentOutOfRangeException(nameof(axis), axis, $"axis must be in [-{shape.Length}, {shape.Length}) for a tensor of rank {shape.Length}");
        return shape[a];
    }

    /// <summary>Element at a multi-dimensional index.</summary>
    public float this[params int[] index]
    {
        get => Buffer[Offset + FlatIndex(index)];
        set
        {
            Buffer[Offset + FlatIndex(index)] = value;
            version.Value++;
        }
    }

    /// <summary>Wraps an existing array without copying; <paramref name="data"/> must hold exactly the shape's element count.</summary>
    public static Tensor FromArray(float[] data, params int[] shape)
    {
        ArgumentNullException.ThrowIfNull(data);
        int[] s = CheckShape(shape);
        long n = Count(s);
        if (data.Length != n)
            throw new ArgumentException($"data has {data.Length} elements but shape ({string.Join(", ", s)}) needs {n}", nameof(data));
        return new Tensor(data, 0, s);
    }

    /// <summary>A zero-filled tensor.</summary>
    public static Tensor Zeros(params int[] shape) => new(shape);

    /// <summary>A tensor with the same shape whose elements are a copy of this one's.</summary>
    public Tensor Clone()
    {
        var t = new Tensor(shape);
        ReadOnly.CopyTo(t.Span);
        return t;
    }

    /// <summary>A view with another shape over the same elements (the element count must match).</summary>
    public Tensor Reshape(params int[] newShape)
    {
        int[] s = CheckShape(newShape);
        if (Count(s) != Length)
            throw new ArgumentException($"cannot reshape {ShapeString(shape)} ({Length} elements) to {ShapeString(s)} ({Count(s)} elements)", nameof(newShape));
        return new Tensor(Buffer, Offset, s, owner, version); // the same elements: one version for both
    }

    /// <summary>A copy of the elements.</summary>
    public float[] ToArray() => ReadOnly.ToArray();

    /// <summary>
    /// Points this tensor at new storage, keeping its shape: <see cref="ParameterArena"/> moves a parameter's value and
    /// gradient onto their slices with it. Views made earlier (<see cref="Reshape"/>) keep the old storage.
    /// </summary>
    internal void Rebind(float[] buffer, int offset)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (owner is not null) throw new InvalidOperationException("a view into recycled buffers cannot be rebound");
        if (offset < 0 || (long)offset + Length > buffer.Length)
            throw new ArgumentOutOfRangeException(nameof(offset));
        buffer_ = buffer;
        Offset = offset;
        version.Value++;
    }

    /// <summary>Whether the shapes are equal.</summary>
    public bool SameShape(ReadOnlySpan<int> other) => Shape.SequenceEqual(other);

    /// <summary>Formats a shape as <c>(2, 3, 4)</c>.</summary>
    public static string ShapeString(ReadOnlySpan<int> s)
    {
        var sb = new StringBuilder("(");
        for (int i = 0; i < s.Length; i++)
        {
            if (i > 0) sb.Append(", ");
            sb.Append(s[i]);
        }
        if (s.Length == 1) sb.Append(',');
        return sb.Append(')').ToString();
    }

    /// <inheritdoc/>
    public override string ToString() => $"Tensor{ShapeString(shape)}";

    private int FlatIndex(int[] index)
    {
        if (index.Length != shape.Length)
            throw new ArgumentException($"index has {index.Length} components but the tensor has rank {shape.Length}", nameof(index));
        int flat = 0;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)shape[i])
                throw new IndexOutOfRangeException($"index {index[i]} is out of range for dimension {i} of size {shape[i]}");
            flat = flat * shape[i] + index[i];
        }
        return flat;
    }

    private static int[] CheckShape(int[] shape)
    {
        ArgumentNullException.ThrowIfNull(shape);
        long n = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] < 0)
                throw new ArgumentOutOfRangeException(nameof(shape), $"shape[{i}] must be >= 0, got {shape[i]}");
            n *= shape[i];
            if (n > Array.MaxLength)
                throw new ArgumentOutOfRangeException(nameof(shape), $"shape {ShapeString(shape)} has more than {Array.MaxLength} elements");
        }
        return (int[])shape.Clone();
    }

    private static int Count(int[] shape)
    {
        long n = 1;
        foreach (int d in shape) n *= d;
        return (int)n;
    }
}
