namespace Recur.Kernels;

/// <summary>
/// A grow-only float buffer on the pinned object heap whose usable part starts on a 64-byte boundary,
/// so kernels can hold raw pointers into it and vector loads never split a cache line.
/// </summary>
internal sealed unsafe class AlignedBuffer
{
    private float[] array = [];
    private int offset;

    /// <summary>Capacity in floats of the aligned part.</summary>
    public int Capacity { get; private set; }

    /// <summary>Pointer to the aligned start. Valid until the next <see cref="Ensure"/> that grows the buffer.</summary>
    public float* Pointer
    {
        get
        {
            fixed (float* p = array) return p + offset; // pinned heap: the address never moves
        }
    }

    /// <summary>Grows the buffer to at least <paramref name="floats"/> floats. Contents are not preserved.</summary>
    public void Ensure(long floats)
    {
        if (floats <= Capacity) return;
        if (floats > int.MaxValue - 64)
            throw new InvalidOperationException($"kernel scratch buffer of {floats} floats exceeds the 2^31 element limit");
        long grown = Math.Max(floats, Math.Min((long)Capacity * 3 / 2, int.MaxValue - 64));
        array = GC.AllocateUninitializedArray<float>((int)grown + 16, pinned: true);
        fixed (float* p = array)
        {
            long misalignment = ((long)p & 63) / sizeof(float);
            offset = misalignment == 0 ? 0 : (int)(16 - misalignment);
        }
        Capacity = (int)grown;
    }
}
