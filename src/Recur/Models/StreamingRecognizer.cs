using Recur.Data;
using Recur.Models.Decoding;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>
/// Transcribes while the audio arrives: <see cref="Push"/> takes the next samples, runs the front end's completed
/// steps through a unidirectional <see cref="SpeechRecognizer"/> from the recurrent state the previous chunk left, and
/// extends the hypothesis: by best path (<see cref="CtcGreedyDecoder"/>, continued across chunks from the previous
/// chunk's last step) or, with a <see cref="CtcPrefixBeamSearch"/>, by advancing its <see cref="CtcBeamSearchState"/>,
/// whose current best prefix is the partial text. <see cref="Finish"/> ends the audio. The front end's steps equal the
/// offline ones bit for bit, and the recurrent state carries over exactly, so the final text is the offline
/// transcription of the same audio with the same decoder.
/// </summary>
public sealed class StreamingRecognizer
{
    private readonly SpeechRecognizer model;
    private readonly StreamingSpeechFeatures stream;
    private readonly CharacterSet characters;
    private readonly CtcBeamSearchState? beam;
    private readonly List<int> labels = [];
    private float[]? lastStep;
    private Tensor? hidden, cell;
    private string text = "";

    /// <summary>A recogniser over <paramref name="model"/> with its front end and characters, decoding by best path or with <paramref name="search"/>.</summary>
    public StreamingRecognizer(SpeechRecognizer model, SpeechFeatures features, CharacterSet characters, CtcPrefixBeamSearch? search = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(characters);
        if (!model.CanStream) throw new ArgumentException("a bidirectional recogniser needs the whole utterance before its first output, so it cannot stream; use offline transcription or a unidirectional model", nameof(model));
        if (features.Width != model.Config.Encoder.InputFeatures)
            throw new ArgumentException($"the front end's steps must have the model's input width (expected {model.Config.Encoder.InputFeatures}, got {features.Width})", nameof(features));
        if (characters.Count != model.Config.Classes)
            throw new ArgumentException($"the character set must have one class per model output (expected {model.Config.Classes}, got {characters.Count})", nameof(characters));
        this.model = model;
        this.characters = characters;
        beam = search?.Begin(model.Config.Classes);
        stream = features.CreateStream();
    }

    /// <summary>The hypothesis so far (with a beam search, its most probable prefix, complete or not).</summary>
    public string Text => text;

    /// <summary>Model steps run so far.</summary>
    public int Steps { get; private set; }

    /// <summary>Adds samples; returns true when the hypothesis changed.</summary>
    public bool Push(ReadOnlySpan<float> samples) => Run(stream.Push(samples));

    /// <summary>
    /// Ends the audio; returns the final text (with a beam search, its most probable result: with a constraint, the
    /// most probable complete one, or the empty text when none survived the beam).
    /// </summary>
    public string Finish()
    {
        Run(stream.Finish());
        if (beam is not null && !beam.Finished) text = beam.Finish() is { Count: > 0 } r ? characters.Decode(r[0].Labels) : "";
        return text;
    }

    private bool Run(float[] steps)
    {
        int width = stream.Width, n = steps.Length / width;
        if (n == 0) return false;
        using var _ = model.EvaluationMode();
        var x = new Tensor(1, n, width);
        steps.CopyTo(x.Span);
        var (logits, h, c) = model.StreamChunk(x, hidden, cell);
        hidden = h;
        cell = c;
        Steps += n;
        int classes = model.Config.Classes;
        var scores = logits.Span[..(n * classes)];
        string before = text;
        if (beam is not null)
        {
            beam.Advance(scores);
            text = characters.Decode(beam.Best.Labels);
        }
        else
        {
            // Best path over the previous chunk's last step and this chunk: a label of that step's (already counted) is dropped,
            // so a repeat across the chunk boundary merges as it does offline.
            var joined = new float[(n + 1) * classes];
            if (lastStep is not null) lastStep.CopyTo(joined, 0);
            else joined[0] = 1;   // before the first step: the blank, as the decoder starts
            scores.CopyTo(joined.AsSpan(classes));
            var path = CtcGreedyDecoder.Decode(joined, classes);
            int previous = TensorPrimitives.IndexOfMax(joined.AsSpan(0, classes));
            labels.AddRange(previous != CharacterSet.Blank && path.Length > 0 ? path[1..] : path);
            lastStep = scores[^classes..].ToArray();
            text = characters.Decode(labels);
        }
        return text != before;
    }
}
