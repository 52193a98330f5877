namespace Recur.Data;

/// <summary>Settings of <see cref="SpeechFeatures"/>: the audio front end, deltas and frame stacking.</summary>
public sealed record SpeechFeatureOptions
{
    /// <summary>The log-mel / MFCC front end.</summary>
    public FeatureOptions Audio { get; init; } = new();
    /// <summary>0: static features only; 1: with deltas; 2: with deltas and delta-deltas.</summary>
    public int DeltaOrder { get; init; }
    /// <summary>Regression window of the deltas, frames each side (N in <see cref="Deltas"/>).</summary>
    public int DeltaWindow { get; init; } = Deltas.DefaultWindow;
    /// <summary>Adjacent frames stacked into one, with the same stride (1: none); see <see cref="FrameStacking"/>.</summary>
    public int Stack { get; init; } = 1;

    /// <summary>Throws on a setting out of range.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Audio);
        if (DeltaOrder is < 0 or > 2) throw new ArgumentOutOfRangeException(nameof(DeltaOrder), DeltaOrder, "must be 0, 1 (deltas) or 2 (deltas and delta-deltas)");
        if (DeltaWindow < 1) throw new ArgumentOutOfRangeException(nameof(DeltaWindow), DeltaWindow, "must be >= 1 frame");
        if (Stack < 1) throw new ArgumentOutOfRangeException(nameof(Stack), Stack, "must be >= 1 frame");
    }
}

/// <summary>
/// The speech front end of the recogniser, in this order: log-mel or MFCC frames (<see cref="AudioFeatures"/>),
/// deltas appended (<see cref="Deltas"/>), each frame standardised (when a <see cref="Standardizer"/> is given; fit it
/// on <see cref="Frames"/> of the training audio), then frames stacked with subsampling (<see cref="FrameStacking"/>).
/// Training-only masking (<see cref="SpecAugment"/>) goes between standardising and stacking, so it is not part of
/// this class. <see cref="CreateStream"/> gives the same frames while the audio arrives.
/// </summary>
public sealed class SpeechFeatures
{
    /// <summary>A front end at <paramref name="sampleRate"/>; <paramref name="standardizer"/>, when given, has one column per frame value (<see cref="FrameWidth"/>).</summary>
    public SpeechFeatures(int sampleRate, SpeechFeatureOptions options, Standardizer? standardizer = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Audio = new AudioFeatures(sampleRate, options.Audio);
        if (standardizer is not null && standardizer.Columns != FrameWidth)
            throw new ArgumentException($"the standardizer must have one column per frame value (expected {FrameWidth}, got {standardizer.Columns})", nameof(standardizer));
        Standardizer = standardizer;
    }

    /// <summary>The settings.</summary>
    public SpeechFeatureOptions Options { get; }
    /// <summary>The log-mel / MFCC extractor.</summary>
    public AudioFeatures Audio { get; }
    /// <summary>The per-value standardisation, or null.</summary>
    public Standardizer? Standardizer { get; }
    /// <summary>The sample rate.</summary>
    public int SampleRate => Audio.SampleRate;
    /// <summary>Values per frame before stacking: the audio features times (1 + delta order).</summary>
    public int FrameWidth => Audio.Width * (Options.DeltaOrder + 1);
    /// <summary>Values per model input step: <see cref="FrameWidth"/> times the stacking factor.</summary>
    public int Width => FrameWidth * Options.Stack;

    /// <summary>The same front end with <paramref name="standardizer"/>.</summary>
    public SpeechFeatures With(Standardizer standardizer) => new(SampleRate, Options, standardizer);

    /// <summary>Model input steps for <paramref name="samples"/> samples of audio.</summary>
    public int Steps(int samples) => FrameStacking.StackedSteps(Audio.FrameCount(samples), Options.Stack);

    /// <summary>Frames before stacking (steps, <see cref="FrameWidth"/>): features, deltas, standardised.</summary>
    public (float[] Frames, int Steps) Frames(ReadOnlySpan<float> signal)
    {
        var raw = Audio.Compute(signal);
        int steps = raw.Length / Audio.Width;
        var frames = Deltas.Append(raw, steps, Audio.Width, Options.DeltaOrder, Options.DeltaWindow);
        if (Standardizer is { } s)
            for (int t = 0; t < steps; t++) s.Apply(frames.AsSpan(t * FrameWidth, FrameWidth), frames.AsSpan(t * FrameWidth, FrameWidth));
        return (frames, steps);
    }

    /// <summary>Frames from <see cref="Frames"/> stacked: (ceil(steps / stack), <see cref="Width"/>).</summary>
    public (float[] Frames, int Steps) Stack(float[] frames, int steps) =>
        Options.Stack == 1 ? (frames, steps) : (FrameStacking.Stack(frames, steps, FrameWidth, Options.Stack), FrameStacking.StackedSteps(steps, Options.Stack));

    /// <summary>The model's input for a signal: <see cref="Frames"/> then <see cref="Stack"/>.</summary>
    public (float[] Frames, int Steps) Compute(ReadOnlySpan<float> signal)
    {
        var (frames, steps) = Frames(signal);
        return Stack(frames, steps);
    }

    /// <summary>A stream that yields the frames of <see cref="Compute"/> while the audio arrives.</summary>
    public StreamingSpeechFeatures CreateStream() => new(this);
}
