using Recur.Data;
using Recur.Models;

namespace Recur.IO;

/// <summary>
/// What a model file stores about turning raw input into model input, so that <see cref="ModelFile.Load"/> plus one
/// call on <see cref="ModelBundle"/> reproduces the predictions of the program that trained it. Each part is present
/// only for the models that need it.
/// </summary>
public sealed record ModelPreprocessing
{
    /// <summary>
    /// Per-feature standardisation fitted on the training data: the numeric columns of an <see cref="Mlp"/>, the
    /// MFCC coefficients of an audio classifier, the features of each step of a numeric-sequence classifier or
    /// regressor, the series columns of a <see cref="Forecaster"/> (the forecaster's own <see cref="Forecaster.Standardizer"/>).
    /// </summary>
    public Standardizer? Standardizer { get; init; }

    /// <summary>
    /// The standardisation of a regression model's targets, one column per output, fitted on the training targets: the
    /// model predicts (y - mean) / std, and <see cref="ModelBundle.RegressSequence"/> returns y (a
    /// <see cref="PooledSequenceRegressor"/>).
    /// </summary>
    public Standardizer? Target { get; init; }

    /// <summary>The audio front end of an audio classifier: sample rate and MFCC settings.</summary>
    public AudioFrontEnd? Audio { get; init; }

    /// <summary>The piano-roll encoding of a music generator: its lowest pitch (the range is the generator's frame size).</summary>
    public PianoRollRange? Music { get; init; }

    /// <summary>True when no part is set.</summary>
    internal bool IsEmpty => Standardizer is null && Target is null && Audio is null && Music is null;
}

/// <summary>
/// The audio front end of a classifier over audio clips or of a speech recogniser: audio must have this sample rate;
/// frames are MFCCs (or log-mel energies), for a recogniser with optional deltas and frame stacking.
/// </summary>
public sealed record AudioFrontEnd
{
    /// <summary>Sample rate of the training audio, in Hz; other rates are rejected.</summary>
    public required int SampleRate { get; init; }

    /// <summary>Framing and MFCC settings.</summary>
    public FeatureOptions Features { get; init; } = new();

    /// <summary>The feature extractor these settings describe.</summary>
    public AudioFeatures CreateFeatures() => new(SampleRate, Features);

    /// <summary>Speech recogniser: 1 appends deltas, 2 deltas and delta-deltas (null: none; see <see cref="Data.Deltas"/>).</summary>
    public int? DeltaOrder { get; init; }

    /// <summary>Speech recogniser: frames stacked into one step, with the same stride (null: 1; see <see cref="FrameStacking"/>).</summary>
    public int? Stack { get; init; }

    /// <summary>The speech front end these settings describe, standardised by <paramref name="standardizer"/> (one column per frame value).</summary>
    public SpeechFeatures CreateSpeechFeatures(Standardizer? standardizer) =>
        new(SampleRate, new SpeechFeatureOptions { Audio = Features, DeltaOrder = DeltaOrder ?? 0, Stack = Stack ?? 1 }, standardizer);
}

/// <summary>The pitch range of a piano roll: MIDI pitches LowestPitch .. LowestPitch + frame size - 1.</summary>
public sealed record PianoRollRange
{
    /// <summary>MIDI pitch of the first unit of a frame.</summary>
    public required int LowestPitch { get; init; }
}
