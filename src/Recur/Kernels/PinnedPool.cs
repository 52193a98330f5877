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
    // Size classes: 64 floats, then four per power of two (2^k times 5/4, 6/4, 7/4 and 8/4 for k >= 6), so a buffer
    // is at most 25% larger than asked for. Whole powers of two wasted up to half: a GRU layer's (T*B, 3H) gates of
    // 6400 x 1536 floats took a 2^24-float array, 1.7 times its size.
    private const int ClassesPerOctave = 4;
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
        var b = new Stack<float[]>[ClassesPerOctave * (32 - MinBucket) + 1];
        for (int i = 0; i < b.Length; i++) b[i] = new Stack<float[]>();
        return b;
    }

    /// <summary>An array of at least <paramref name="length"/> floats with unspecified contents.</summary>
    public static float[] Rent(long length)
    {
        if (length > Array.MaxLength)
            throw new OutOfMemoryException($"a buffer of {length} floats exceeds the largest .NET array ({Array.MaxLength} elements)");
        int bucket = SizeClass(Math.Max(1, length));
        lock (Gate)
        {
            if (Buckets[bucket].TryPop(out var a))
            {
                retained -= a.Length;
                Rented(a.Length);
                return a;
            }
        }
        long size = ClassSize(bucket);
        var fresh = GC.AllocateUninitializedArray<float>((int)size, pinned: true);
        lock (Gate) Rented(fresh.Length);
        return fresh;
    }

    /// <summary>Gives an array back for reuse.</summary>
    public static void Return(float[] array)
    {
        int bucket = SizeClass(array.Length);
        if (ClassSize(bucket) != array.Length) return; // not one of ours
        lock (Gate)
        {
            inUse -= array.Length;
            if (Buckets[bucket].Count >= MaxPerBucket || retained + array.Length > MaxRetainedFloats) return;
            Buckets[bucket].Push(array);
            retained += array.Length;
        }
    }

    /// <summary>The smallest size class holding <paramref name="length"/> (&gt;= 1) floats.</summary>
    internal static int SizeClass(long length)
    {
        if (length <= 1L << MinBucket) return 0;
        int k = 63 - System.Numerics.BitOperations.LeadingZeroCount((ulong)(length - 1));   // 2^k < length <= 2^(k+1)
        long step = 1L << (k - 2);
        int s = (int)((length - (1L << k) + step - 1) / step);                               // 1..4 quarters above 2^k
        return ClassesPerOctave * (k - MinBucket) + s;
    }

    /// <summary>The length of the arrays of size class <paramref name="sizeClass"/> (capped at the largest .NET array).</summary>
    internal static long ClassSize(int sizeClass)
    {
        if (sizeClass == 0) return 1L << MinBucket;
        int k = MinBucket + (sizeClass - 1) / ClassesPerOctave, s = (sizeClass - 1) % ClassesPerOctave + 1;
        return Math.Min((1L << k) + s * (1L << (k - 2)), Array.MaxLength);
    }

    /// <summary>
    /// An array of at least <paramref name="length"/> floats from its element <paramref name="offset"/> on, which starts on
    /// a 64-byte boundary (a cache line, and one AVX-512 vector): rows of the gates and states then begin on a line
    /// whenever their length is a multiple of 16 floats, and full-vector accesses never split one. .NET cannot align
    /// element 0 of an array, so the caller carries the offset (it stays valid: pinned arrays never move).
    /// </summary>
    public static float[] RentAligned(long length, out int offset)
    {
        float[] a = Rent(length + (CacheLine / sizeof(float) - 1));
        offset = AlignedOffset(a);
        return a;
    }

    private const int CacheLine = 64;

    /// <summary>The index of the first element of a pinned array that lies on a 64-byte boundary.</summary>
    public static int AlignedOffset(float[] pinned) => (int)(((CacheLine - ((nint)Address(pinned) & (CacheLine - 1))) & (CacheLine - 1)) / sizeof(float));

    /// <summary>The address of element 0 of a pinned array.</summary>
    public static float* Address(float[] pinned) => (float*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(pinned));
}
