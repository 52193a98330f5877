using Recur.Data;
using Recur.Tensors;

namespace Recur.Tests.Speech;

/// <summary>The recogniser's front end: deltas, stacking, SpecAugment, and streaming that equals offline bit for bit.</summary>
public class SpeechFeaturesTests
{
    /// <summary>A seeded, speech-like signal: two tones with a rising envelope plus noise.</summary>
    private static float[] Signal(int n, ulong seed)
    {
        var rng = new Rng(seed);
        var x = new float[n];
        for (int i = 0; i < n; i++)
            x[i] = (float)(0.3 * Math.Sin(2 * Math.PI * 440 * i / 8000.0) * (i % 997) / 997.0 + 0.1 * Math.Sin(2 * Math.PI * 1700 * i / 8000.0) + 0.02 * rng.NextNormal());
        return x;
    }

    /// <summary>Feeds <paramref name="signal"/> in chunks of seeded random sizes (1 to <paramref name="maxChunk"/>) and concatenates what comes out.</summary>
    private static float[] Streamed(Func<float[], float[]> push, Func<float[]> finish, float[] signal, int maxChunk, ulong seed)
    {
        var rng = new Rng(seed);
        var output = new List<float>();
        for (int i = 0; i < signal.Length;)
        {
            int n = Math.Min(signal.Length - i, 1 + rng.NextInt(maxChunk));
            output.AddRange(push(signal[i..(i + n)]));
            i += n;
        }
        output.AddRange(finish());
        return output.ToArray();
    }

    [Theory]
    [InlineData(0, 50)]
    [InlineData(1, 1)]
    [InlineData(199, 7)]
    [InlineData(200, 200)]
    [InlineData(201, 13)]
    [InlineData(280, 80)]
    [InlineData(281, 3)]
    [InlineData(3333, 160)]
    [InlineData(3333, 1000)]
    public void StreamingMfccFramesEqualTheOfflineFramesBitForBit(int samples, int maxChunk)
    {
        var features = new AudioFeatures(8000);
        var signal = Signal(samples, 5);
        var offline = features.Compute(signal);
        var stream = new StreamingAudioFeatures(features);
        var online = Streamed(c => stream.Push(c), stream.Finish, signal, maxChunk, (ulong)(samples + maxChunk));
        Assert.Equal(features.FrameCount(samples), online.Length / features.Width);
        Assert.Equal(offline, online); // float equality: the same frames, bit for bit
    }

    [Theory]
    [InlineData(0, 1, 3333, 1)]
    [InlineData(1, 1, 3333, 37)]
    [InlineData(2, 1, 3333, 160)]
    [InlineData(2, 3, 3333, 80)]
    [InlineData(1, 4, 4100, 500)]
    [InlineData(2, 2, 150, 9)]
    [InlineData(2, 3, 520, 1)]
    public void StreamingSpeechFeaturesWithDeltasStandardizingAndStackingEqualOffline(int order, int stack, int samples, int maxChunk)
    {
        var options = new SpeechFeatureOptions { Audio = new FeatureOptions { Coefficients = 0, MelBands = 23 }, DeltaOrder = order, Stack = stack };
        var plain = new SpeechFeatures(8000, options);
        var (fitFrames, fitSteps) = plain.Frames(Signal(6000, 11));
        var standardizer = Standardizer.FitRows(Enumerable.Range(0, fitSteps).Select(t => fitFrames.AsSpan(t * plain.FrameWidth, plain.FrameWidth).ToArray()), plain.FrameWidth);
        var front = plain.With(standardizer);
        var signal = Signal(samples, 3);
        var (offline, steps) = front.Compute(signal);
        Assert.Equal(front.Steps(samples), steps);
        var stream = front.CreateStream();
        var online = Streamed(c => stream.Push(c), stream.Finish, signal, maxChunk, 99);
        Assert.Equal(steps, stream.StepsEmitted);
        Assert.Equal(offline, online);
    }

    [Fact]
    public void StreamingYieldsStepsBeforeTheEndWithALookAheadOfTheDeltaWindow()
    {
        var front = new SpeechFeatures(8000, new SpeechFeatureOptions { DeltaOrder = 2, Stack = 1 });
        var stream = front.CreateStream();
        // 1,000 samples complete 1 + (1000 - 200) / 80 = 11 frames; delta-deltas need 2N = 4 frames ahead: 7 steps out.
        var steps = stream.Push(Signal(1000, 1));
        Assert.Equal(7 * front.Width, steps.Length);
        Assert.Throws<InvalidOperationException>(() => { stream.Finish(); stream.Push([0f]); });
    }

    [Fact]
    public void DeltasFollowTheRegressionFormulaWithReplicatedEdges()
    {
        // c_t = t^2: an interior delta is sum_n n (c_{t+n} - c_{t-n}) / (2 sum_n n^2) = sum_n 4 t n^2 / 10 = 2t, and the
        // delta-delta where the deltas are interior is 2. At t = 0, c_{-1} = c_{-2} = c_0: (1 (1 - 0) + 2 (4 - 0)) / 10 = 0.9.
        int steps = 12;
        var c = Enumerable.Range(0, steps).Select(t => (float)(t * t)).ToArray();
        var both = Deltas.Append(c, steps, 1, order: 2);
        for (int t = 2; t <= steps - 3; t++) Assert.Equal(2f * t, both[t * 3 + 1], 5);
        for (int t = 4; t <= steps - 5; t++) Assert.Equal(2f, both[t * 3 + 2], 5);
        Assert.Equal(0.9f, both[1], 6);
        // The last frame: c_12 = c_13 = c_11 = 121: (1 (121 - 100) + 2 (121 - 81)) / 10 = 10.1.
        Assert.Equal(10.1f, both[(steps - 1) * 3 + 1], 4);
        Assert.Equal(c, Enumerable.Range(0, steps).Select(t => both[t * 3]));

        // Width 2 keeps columns apart; order 0 is a copy.
        var two = Deltas.Append([1, 10, 2, 20, 3, 30], 3, 2, order: 1, window: 1);
        Assert.Equal([1, 10, 0.5f, 5, 2, 20, 1, 10, 3, 30, 0.5f, 5], two);
        Assert.Equal([1f, 2, 3], Deltas.Append([1f, 2, 3], 3, 1, order: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => Deltas.Append([1f], 1, 1, order: 3));
        Assert.Throws<ArgumentException>(() => Deltas.Append([1f, 2], 3, 1, order: 1));
    }

    [Fact]
    public void StackingConcatenatesKFramesWithStrideKAndZeroPadsTheLastGroup()
    {
        float[] frames = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; // 5 frames of 2
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0], FrameStacking.Stack(frames, 5, 2, 2));
        Assert.Equal(3, FrameStacking.StackedSteps(5, 2));
        Assert.Equal([1f, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0, 0], FrameStacking.Stack(frames, 5, 2, 3)); // 2 groups of 3 frames
        Assert.Equal(frames, FrameStacking.Stack(frames, 5, 2, 1));
        Assert.Equal(0, FrameStacking.StackedSteps(0, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => FrameStacking.Stack(frames, 5, 2, 0));
    }

    [Fact]
    public void SpecAugmentMasksContiguousBandsInEveryBlockAndRunsOfFramesReproducibly()
    {
        int steps = 40, channels = 10, blocks = 3, width = channels * blocks;
        var aug = new SpecAugment { FrequencyMasks = 2, FrequencyWidth = 4 };
        for (ulong seed = 0; seed < 20; seed++)
        {
            var x = Enumerable.Repeat(1f, steps * width).ToArray();
            aug.Apply(x, steps, channels, blocks, new Rng(seed));
            // Every frame has the same zero channels, and every block the same ones.
            var zero = Enumerable.Range(0, width).Where(j => x[j] == 0).ToArray();
            for (int t = 0; t < steps; t++) Assert.Equal(zero, Enumerable.Range(0, width).Where(j => x[t * width + j] == 0));
            var inBlock = zero.Where(j => j < channels).ToArray();
            for (int b = 1; b < blocks; b++) Assert.Equal(inBlock.Select(j => j + b * channels), zero.Where(j => j / channels == b));
            Assert.True(inBlock.Length <= 8, $"two masks of at most 4 channels, found {inBlock.Length} zero channels");
        }

        var time = new SpecAugment { TimeMasks = 1, TimeWidth = 6, MaxTimeFraction = 0.1 };
        bool masked = false;
        for (ulong seed = 0; seed < 20; seed++)
        {
            var x = Enumerable.Repeat(1f, steps * 2).ToArray();
            time.Apply(x, steps, 2, 1, new Rng(seed));
            var rows = Enumerable.Range(0, steps).Where(t => x[2 * t] == 0).ToArray();
            Assert.All(rows, t => Assert.Equal(0f, x[2 * t + 1]));
            Assert.True(rows.Length <= 4, $"p = 0.1 of 40 frames caps the mask at 4, found {rows.Length}");
            if (rows.Length > 0) Assert.Equal(rows.Length - 1, rows[^1] - rows[0]); // contiguous
            masked |= rows.Length > 0;
        }
        Assert.True(masked);

        var a = Enumerable.Repeat(1f, steps * width).ToArray();
        var b2 = Enumerable.Repeat(1f, steps * width).ToArray();
        var both = new SpecAugment { FrequencyMasks = 2, FrequencyWidth = 5, TimeMasks = 2, TimeWidth = 8 };
        both.Apply(a, steps, channels, blocks, new Rng(7));
        both.Apply(b2, steps, channels, blocks, new Rng(7));
        Assert.Equal(a, b2);
        Assert.Contains(0f, a);
        Assert.True(new SpecAugment().IsNone);
        Assert.Throws<ArgumentOutOfRangeException>(() => new SpecAugment { TimeMasks = -1 }.Validate());
    }
}
