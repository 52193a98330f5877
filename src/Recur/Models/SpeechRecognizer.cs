using Recur.Data;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>Configuration of a <see cref="SpeechRecognizer"/>.</summary>
public sealed record RecognizerConfig
{
    /// <summary>The recurrent trunk over feature frames ((Bi)LSTM, LSTMP or GRU; <see cref="EncoderConfig.InputFeatures"/> set).</summary>
    public required EncoderConfig Encoder { get; init; }
    /// <summary>Output classes: the blank (0) and the characters.</summary>
    public required int Classes { get; init; }
}

/// <summary>A batch of utterances: padded feature frames with their lengths, and each utterance's label sequence.</summary>
public sealed class SpeechBatch
{
    /// <summary>The frames (B, T, F) and lengths.</summary>
    public required SequenceBatch Input { get; init; }
    /// <summary>Per utterance, its characters' classes (1..Classes-1), or null for unlabelled audio.</summary>
    public IReadOnlyList<int[]>? Labels { get; init; }
}

/// <summary>
/// A CTC speech recogniser (Graves et al. 2006; Hannun et al. 2014 with bidirectional layers; Sak et al. 2014 with
/// LSTMP): feature frames, a recurrent stack, dropout and a linear layer at every step over the blank (class 0) and
/// the characters, trained with <see cref="CtcLoss"/> (per-utterance loss over its transcript length, then the batch
/// mean; an impossible alignment is an error upstream, not silently zeroed). A unidirectional model can run while the
/// audio arrives (<see cref="StreamingRecognizer"/>).
/// </summary>
public sealed class SpeechRecognizer : Module, ITrainable<SpeechBatch>
{
    private readonly Dropout headDropout;
    private readonly CtcLoss loss = new(CtcReduction.Mean, zeroInfinity: false, batchFirst: true);

    /// <summary>Creates the model.</summary>
    public SpeechRecognizer(RecognizerConfig config, Rng rng)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Classes < 2) throw new ArgumentOutOfRangeException(nameof(config), config.Classes, "Classes must be >= 2 (the blank and one character)");
        if (config.Encoder.InputFeatures is null || config.Encoder.VocabularySize is not null)
            throw new ArgumentException("a speech recogniser reads feature frames: set Encoder.InputFeatures, not VocabularySize", nameof(config));
        Config = config;
        Encoder = AddModule("encoder", new SequenceEncoder(config.Encoder, rng));
        headDropout = AddModule("head_dropout", new Dropout(config.Encoder.Dropout, rng.Split()));
        Head = AddModule("head", new Linear(Encoder.OutputSize, config.Classes, rng: rng.Split()));
    }

    /// <summary>The configuration.</summary>
    public RecognizerConfig Config { get; }
    /// <summary>The trunk.</summary>
    public SequenceEncoder Encoder { get; }
    /// <summary>The per-step output layer.</summary>
    public Linear Head { get; }
    /// <summary>Whether the model can transcribe while the audio arrives (no backward direction).</summary>
    public bool CanStream => !Config.Encoder.Bidirectional;
    Module ITrainable<SpeechBatch>.Model => this;

    /// <summary>Per-step scores (B, T, Classes) before the softmax; rows past an utterance's length are meaningless.</summary>
    public Tensor Logits(SequenceBatch input)
    {
        using var pass = Encoder.Forward(input, requiresGrad: false);
        return Head.Forward(pass.Rnn.Output).Output;
    }

    /// <summary>
    /// One chunk of a stream: the logits (1, T, Classes) of <paramref name="frames"/> (1, T, F) run from the state
    /// <paramref name="h0"/>/<paramref name="c0"/> (null: zeros), and the state after it.
    /// </summary>
    public (Tensor Logits, Tensor Hidden, Tensor? Cell) StreamChunk(Tensor frames, Tensor? h0, Tensor? c0)
    {
        ArgumentNullException.ThrowIfNull(frames);
        if (!CanStream) throw new InvalidOperationException("a bidirectional recogniser needs the whole utterance before its first output, so it cannot stream; train a unidirectional one");
        var batch = new SequenceBatch { Features = frames, Lengths = [frames.Dim(1)], Steps = frames.Dim(1) };
        using var pass = Encoder.Forward(batch, h0, c0, requiresGrad: false);
        var logits = Head.Forward(pass.Rnn.Output).Output;
        return (logits, pass.Rnn.HiddenState.Clone(), pass.Rnn.CellState?.Clone());
    }

    /// <inheritdoc/>
    public BatchLoss Step(SpeechBatch batch, bool backward) => Step(batch, backward, null);

    /// <summary>
    /// One training (or evaluation) step: the CTC loss of the batch (mean over utterances of loss / transcript length);
    /// with <paramref name="backward"/>, its gradient is added to every parameter's. <paramref name="gradientFlow"/>
    /// receives ||dL/dh_t|| of the recurrent stack.
    /// </summary>
    public BatchLoss Step(SpeechBatch batch, bool backward, IGradientFlowObserver? gradientFlow)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var labels = batch.Labels ?? throw new ArgumentException("batch.Labels (one label sequence per utterance) is required to train", nameof(batch));
        var input = batch.Input;
        if (labels.Count != input.Batch) throw new ArgumentException($"batch.Labels must hold one sequence per utterance (expected {input.Batch}, got {labels.Count})", nameof(batch));
        using var pass = Encoder.Forward(input, requiresGrad: backward);
        var dropped = headDropout.Forward(pass.Rnn.Output);
        var head = Head.Forward(dropped.Output);
        var dLogits = backward ? new Tensor(head.Output.Shape.ToArray()) : null;
        float l = loss.Forward(head.Output, input.Lengths, labels, dLogits);
        if (backward)
        {
            var dOut = head.Backward(dLogits!);
            pass.Backward(dropped.Backward(dOut), gradientFlow: gradientFlow);
        }
        return new BatchLoss(l, input.Batch);
    }

    /// <summary>The fewest input steps (after subsampling) an utterance with these labels needs: <see cref="CtcLoss.MinimumInputLength"/>.</summary>
    public static int MinimumSteps(ReadOnlySpan<int> labels) => CtcLoss.MinimumInputLength(labels);
}
