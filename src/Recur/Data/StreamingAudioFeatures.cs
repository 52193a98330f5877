namespace Recur.Data;

/// <summary>
/// The frames of <see cref="AudioFeatures"/> computed while the audio arrives: <see cref="Push"/> takes the next
/// samples and returns the frames whose window they complete; <see cref="Finish"/> ends the signal and returns the
/// rest (the zero-padded frames at the end). Concatenated, the frames equal <see cref="AudioFeatures.Compute"/> of the
/// whole signal bit for bit, however the signal is cut into chunks. It keeps only the samples the next frame needs.
/// </summary>
public sealed class StreamingAudioFeatures
{
    private readonly AudioFeatures features;
    private readonly AudioFeatures.FrameScratch scratch;
    private float[] buffer = new float[1024];
    private int buffered;        // samples in buffer
    private long bufferStart;    // index in the signal of buffer[0]
    private long received;       // samples pushed so far
    private int emitted;         // frames returned so far
    private bool finished;

    /// <summary>A stream over the frames of <paramref name="features"/>.</summary>
    public StreamingAudioFeatures(AudioFeatures features)
    {
        ArgumentNullException.ThrowIfNull(features);
        this.features = features;
        scratch = new AudioFeatures.FrameScratch(features);
    }

    /// <summary>Values per frame.</summary>
    public int Width => features.Width;

    /// <summary>Frames returned so far.</summary>
    public int FramesEmitted => emitted;

    /// <summary>Adds samples; returns the frames (n, Width) they complete, row-major (possibly none).</summary>
    public float[] Push(ReadOnlySpan<float> samples)
    {
        if (finished) throw new InvalidOperationException("the stream is finished; start a new one for new audio");
        Append(samples);
        received += samples.Length;
        int window = features.WindowSamples, hop = features.HopSamples;
        // Frame f is complete once samples [f*hop, f*hop + window) have arrived. (A signal no longer than one window
        // still gives one frame, at Finish.)
        long ready = received < window ? 0 : 1 + (received - window) / hop;
        return Emit((int)ready, ended: false);
    }

    /// <summary>Ends the signal; returns the remaining frames (the signal's last, zero-padded ones).</summary>
    public float[] Finish()
    {
        if (finished) throw new InvalidOperationException("the stream is already finished");
        finished = true;
        return Emit(features.FrameCount(checked((int)received)), ended: true);
    }

    private float[] Emit(int upTo, bool ended)
    {
        int n = Math.Max(0, upTo - emitted), width = Width, window = features.WindowSamples, hop = features.HopSamples;
        var output = new float[n * width];
        for (int i = 0; i < n; i++, emitted++)
        {
            long start = (long)emitted * hop;
            int from = (int)(start - bufferStart);
            int to = (int)Math.Min(start + window - bufferStart, buffered);
            float previous = start > 0 && start <= received ? buffer[from - 1] : 0f;
            var available = from < to ? buffer.AsSpan(from, to - from) : ReadOnlySpan<float>.Empty;
            features.ComputeFrame(available, previous, output.AsSpan(i * width, width), scratch);
        }
        if (!ended) Trim();
        return output;
    }

    /// <summary>Drops the samples before the next frame's start, keeping the one pre-emphasis needs.</summary>
    private void Trim()
    {
        long keepFrom = Math.Max(0, (long)emitted * features.HopSamples - 1);
        int drop = (int)Math.Min(keepFrom - bufferStart, buffered);
        if (drop <= 0) return;
        buffer.AsSpan(drop, buffered - drop).CopyTo(buffer);
        buffered -= drop;
        bufferStart += drop;
    }

    private void Append(ReadOnlySpan<float> samples)
    {
        if (buffered + samples.Length > buffer.Length)
            Array.Resize(ref buffer, Math.Max(buffer.Length * 2, buffered + samples.Length));
        samples.CopyTo(buffer.AsSpan(buffered));
        buffered += samples.Length;
    }
}
