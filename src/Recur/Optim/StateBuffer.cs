namespace Recur.Optim;

/// <summary>
/// One kind of optimizer state (a moment, a momentum buffer, a running sum) for all of an optimizer's parameters in one
/// buffer, laid out as its parameters (so as their arena when they form one): one span covers any run of consecutive
/// parameters. A parameter's slice is set to the initial value on first use; until then it counts as absent (PyTorch
/// creates state lazily, and SGD's momentum buffer starts from the first gradient rather than from zero).
/// </summary>
internal sealed class StateBuffer(int[] offsets, float initial = 0f)
{
    private float[]? data;
    private readonly bool[] present = new bool[offsets.Length - 1];

    /// <summary>Whether parameter <paramref name="index"/> has state yet.</summary>
    public bool Has(int index) => present[index];

    /// <summary>Whether parameters [first, first + count) all have state (true) or none does (false); null when mixed.</summary>
    public bool? AllOrNone(int first, int count)
    {
        bool any = false, all = true;
        for (int i = first; i < first + count; i++)
        {
            any |= present[i];
            all &= present[i];
        }
        return all ? true : any ? null : false;
    }

    /// <summary>The state of parameters [first, first + count), created at the initial value where absent.</summary>
    public Span<float> Get(int first, int count)
    {
        data ??= new float[offsets[^1]];
        for (int i = first; i < first + count; i++)
        {
            if (present[i]) continue;
            if (initial != 0f) data.AsSpan(offsets[i], offsets[i + 1] - offsets[i]).Fill(initial);
            present[i] = true;
        }
        return data.AsSpan(offsets[first], offsets[first + count] - offsets[first]);
    }

    /// <summary>A copy of parameter <paramref name="index"/>'s state (it must be present).</summary>
    public float[] Copy(int index) => data!.AsSpan(offsets[index], offsets[index + 1] - offsets[index]).ToArray();
}
