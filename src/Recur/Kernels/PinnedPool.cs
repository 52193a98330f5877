using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Recur.Kernels;

/// <summary>
/// A process-wide pool of float arrays on the pinned object heap, for the activations and scratch of the
/// layers: pinned arrays never move, so kernels may hold raw pointers into them for a whole forward/backward,
/// and reusing them keeps repeated training steps from allocating.
/// </summary>
internal static unsafe class PinnedPool
{
    private const int MinBucket = 6;           // 64 floats
    // One call can hold many buffers of one size class at once: a two-layer bidirectional LSTM with a projection
    // keeps c, tanh(c) and m per pass, the layer outputs, the result tensors and the gradients, more than 16 of the
    // same bucket for some shapes; with a smaller cap the extras were dropped on return and allocated afresh (and
    // pinned) by every call. The total stays bounded by MaxRetainedFloats.
    private const int MaxPerBucket = 32;
    private const long MaxRetainedFloats = 512L * 1024 * 1024; // 2 GiB

    private static readonly object Gate = new();
    private static readonly Stack<float[]>[] Buckets = CreateBuckets();
    private static long retained;
    private static long inUse, peakInUse;      // floats rented and not yet returned, and its high-water mark

    /// <summary>Bytes of pooled buffers rented and not yet returned.</summary>
    public static long InUseBytes { get { lock (Gate) return inUse * sizeof(float); } }

    /// <summary>The most bytes of pooled buffers in use at once since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakInUseBytes { get { lock (Gate) return peakInUse * sizeof(float); } }

    /// <summary>Starts a new high-water mark at the current use.</summary>
    public static void ResetPeak() { lock (Gate) peakInUse = inUse; }

    private static void Rented(long floats)
    {
        inUse += floats;
        if (inUse > peakInUse) peakInUse = inUse;
    }

    private static Stack<float[]>[] CreateBuckets()
    {
        var b = new Stack<float[]>[32];
        for (int i = 0; i < b.Length; i++) b[i] = new Stack<float[]>();
        return b;
    }

    /// <summary>An array of at least <paramref name="length"/> floats with unspecified contents.</summary>
    public static float[] Rent(long length)
    {
        if (length > Array.MaxLength)
            throw new OutOfMemoryException($"a buffer of {length} floats exceeds the largest .NET array ({Array.MaxLength} elements)");
        int bucket = Math.Max(MinBucket, 64 - System.Numerics.BitOperations.LeadingZeroCount((ulong)Math.Max(1, length - 1)));
        lock (Gate)
        {
            if (Buckets[bucket].TryPop(out var a))
            {
                retained -= a.Length;
                Rented(a.Length);
                return a;
            }
        }
        long size = Math.Min(1L << bucket, Array.MaxLength);
        var fresh = GC.AllocateUninitializedArray<float>((int)size, pinned: true);
        lock (Gate) Rented(fresh.Length);
        return fresh;
    }

    /// <summary>Gives an array back for reuse.</summary>
    public static void Return(float[] array)
    {
        int bucket = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)array.Length);
        if ((1L << bucket) != array.Length && array.Length != Array.MaxLength) return; // not one of ours
        lock (Gate)
        {
            inUse -= array.Length;
            if (Buckets[bucket].Count >= MaxPerBucket || retained + array.Length > MaxRetainedFloats) return;
            Buckets[bucket].Push(array);
            retained += array.Length;
        }
    }

    /// <summary>The address of element 0 of a pinned array.</summary>
    public static float* Address(float[] pinned) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
}
