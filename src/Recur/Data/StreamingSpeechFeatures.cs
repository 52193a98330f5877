namespace Recur.Data;

/// <summary>
/// <see cref="SpeechFeatures.Compute"/> while the audio arrives: <see cref="Push"/> returns the model input steps the
/// new samples complete, <see cref="Finish"/> the rest. Concatenated, they equal the offline steps bit for bit. Deltas
/// need <c>N</c> frames ahead (2N with delta-deltas) and stacking <c>k</c> frames, so a step comes out that many frames
/// after its audio; the frames at the very end (zero-padded window, replicated edge, padded last group) come at
/// <see cref="Finish"/>. Memory stays bounded by the look-ahead, not the length of the stream.
/// </summary>
public sealed class StreamingSpeechFeatures
{
    private readonly SpeechFeatures owner;
    private readonly StreamingAudioFeatures audio;
    private readonly Level[] levels; // 0: the audio features; k: the k-th deltas
    private readonly float[] group;  // the stacking group being filled
    private int groupFill, nextFrame;
    private bool finished;

    internal StreamingSpeechFeatures(SpeechFeatures owner)
    {
        this.owner = owner;
        audio = new StreamingAudioFeatures(owner.Audio);
        levels = Enumerable.Range(0, owner.Options.DeltaOrder + 1).Select(_ => new Level()).ToArray();
        group = new float[owner.Width];
    }

    /// <summary>Values per step (<see cref="SpeechFeatures.Width"/>).</summary>
    public int Width => owner.Width;

    /// <summary>Steps returned so far.</summary>
    public int StepsEmitted { get; private set; }

    /// <summary>Adds samples; returns the steps (n, Width) they complete, row-major (possibly none).</summary>
    public float[] Push(ReadOnlySpan<float> samples)
    {
        if (finished) throw new InvalidOperationException("the stream is finished; start a new one for new audio");
        return Advance(audio.Push(samples), ended: false);
    }

    /// <summary>Ends the audio; returns the remaining steps.</summary>
    public float[] Finish()
    {
        if (finished) throw new InvalidOperationException("the stream is already finished");
        finished = true;
        return Advance(audio.Finish(), ended: true);
    }

    private float[] Advance(float[] newFrames, bool ended)
    {
        int width = owner.Audio.Width, window = owner.Options.DeltaWindow, order = owner.Options.DeltaOrder;
        for (int i = 0; i < newFrames.Length / width; i++) levels[0].Rows.Add(newFrames.AsSpan(i * width, width).ToArray());
        // Level k's frame t needs level k-1 up to t + N (clamped to the last frame once the audio has ended).
        for (int k = 1; k <= order; k++)
        {
            var source = levels[k - 1];
            var target = levels[k];
            int last = source.Count - 1;
            while (target.Count < source.Count && (ended || target.Count + window <= last))
            {
                var row = new float[width];
                Deltas.Row(target.Count, last, width, window, source.At, row);
                target.Rows.Add(row);
            }
        }
        // Whole frames (all levels), standardised, into stacking groups.
        var output = new List<float>();
        int frameWidth = owner.FrameWidth, stack = owner.Options.Stack;
        var frame = new float[frameWidth];
        while (nextFrame < levels[order].Count)
        {
            for (int k = 0; k <= order; k++) levels[k].At(nextFrame).CopyTo(frame.AsSpan(k * width, width));
            var slot = group.AsSpan(groupFill * frameWidth, frameWidth);
            if (owner.Standardizer is { } s) s.Apply(frame, slot);
            else frame.CopyTo(slot);
            nextFrame++;
            if (++groupFill == stack) Flush(output);
        }
        if (ended && groupFill > 0)
        {
            group.AsSpan(groupFill * frameWidth).Clear();
            Flush(output);
        }
        // Keep what later rows still need: level k-1 from (level k's next frame - N), every level from the next whole frame.
        for (int k = 0; k <= order; k++)
        {
            int keep = nextFrame;
            if (k < order) keep = Math.Min(keep, levels[k + 1].Count - window);
            levels[k].DropBefore(keep);
        }
        return output.ToArray();
    }

    private void Flush(List<float> output)
    {
        output.AddRange(group);
        groupFill = 0;
        StepsEmitted++;
    }

    /// <summary>Rows of one level with the absolute index of the first kept one.</summary>
    private sealed class Level
    {
        public readonly List<float[]> Rows = [];
        public int First;
        public int Count => First + Rows.Count;
        public ReadOnlySpan<float> At(int t) => Rows[t - First];
        public void DropBefore(int t)
        {
            int n = Math.Clamp(t - First, 0, Rows.Count);
            Rows.RemoveRange(0, n);
            First += n;
        }
    }
}
