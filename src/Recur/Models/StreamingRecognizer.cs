using System.Text;
using Recur.Data;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>
/// Transcribes while the audio arrives: <see cref="Push"/> takes the next samples, runs the front end's completed
/// steps through a unidirectional <see cref="SpeechRecognizer"/> from the recurrent state the previous chunk left, and
/// extends the greedy (best-path) hypothesis: the most likely class at each step, repeats merged, blanks dropped.
/// <see cref="Finish"/> ends the audio. The front end's steps equal the offline ones bit for bit, and the recurrent
/// state carries over exactly, so the final text is the offline greedy transcription of the same audio.
/// </summary>
public sealed class StreamingRecognizer
{
    private readonly SpeechRecognizer model;
    private readonly StreamingSpeechFeatures stream;
    private readonly CharacterSet characters;
    private readonly StringBuilder text = new();
    private Tensor? hidden, cell;
    private int previous = CharacterSet.Blank;

    /// <summary>A recogniser over <paramref name="model"/> with its front end and characters.</summary>
    public StreamingRecognizer(SpeechRecognizer model, SpeechFeatures features, CharacterSet characters)
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
        stream = features.CreateStream();
    }

    /// <summary>The hypothesis so far.</summary>
    public string Text => text.ToString();

    /// <summary>Model steps run so far.</summary>
    public int Steps { get; private set; }

    /// <summary>Adds samples; returns true when the hypothesis changed.</summary>
    public bool Push(ReadOnlySpan<float> samples) => Run(stream.Push(samples));

    /// <summary>Ends the audio; returns the final text.</summary>
    public string Finish()
    {
        Run(stream.Finish());
        return Text;
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
        int classes = model.Config.Classes, before = text.Length;
        for (int t = 0; t < n; t++)
        {
            int best = TensorPrimitives.IndexOfMax(logits.Span.Slice(t * classes, classes));
            if (best != CharacterSet.Blank && best != previous) text.Append(characters.Decode([best]));
            previous = best;
        }
        return text.Length != before;
    }
}
