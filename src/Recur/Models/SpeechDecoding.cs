using Recur.Data;
using Recur.Models.Decoding;
using Recur.Scoring;
using Recur.Tensors;

namespace Recur.Models;

/// <summary>
/// A CTC recogniser's outputs as text and scores: decodes a batch of logits with <see cref="CtcGreedyDecoder"/> (best
/// path) or a <see cref="CtcPrefixBeamSearch"/> (with an optional grammar), maps the labels to text through the
/// <see cref="CharacterSet"/>, and scores hypotheses with <see cref="ErrorRates"/> (cer, wer, utterance_accuracy).
/// </summary>
public static class SpeechDecoding
{
    /// <summary>
    /// The text of each utterance: the first <c>lengths[b]</c> steps of <paramref name="logits"/> (B, T, C) decoded by
    /// best path when <paramref name="search"/> is null, else the search's most probable result (with a constraint,
    /// the most probable complete one; the empty text when none survived the beam).
    /// </summary>
    public static string[] Decode(Tensor logits, ReadOnlySpan<int> lengths, CharacterSet characters, CtcPrefixBeamSearch? search = null)
    {
        ArgumentNullException.ThrowIfNull(logits);
        ArgumentNullException.ThrowIfNull(characters);
        if (logits.Rank != 3) throw new ArgumentException($"logits must be (B, T, C), got {Tensor.ShapeString(logits.Shape)}", nameof(logits));
        int b = logits.Dim(0), t = logits.Dim(1), c = logits.Dim(2);
        if (lengths.Length != b) throw new ArgumentException($"lengths must hold one length per sequence (expected {b}, got {lengths.Length})", nameof(lengths));
        if (c != characters.Count) throw new ArgumentException($"logits must have one class per character plus the blank (expected {characters.Count}, got {c})", nameof(logits));
        var result = new string[b];
        for (int i = 0; i < b; i++)
        {
            if ((uint)lengths[i] > (uint)t) throw new ArgumentOutOfRangeException(nameof(lengths), lengths[i], $"lengths[{i}] must be in [0, {t}]");
            var scores = logits.Span.Slice(i * t * c, lengths[i] * c);
            result[i] = characters.Decode(search is null ? CtcGreedyDecoder.Decode(scores, c) : search.DecodeBest(scores, c));
        }
        return result;
    }

    /// <summary>
    /// <see cref="ErrorRates.CharacterErrorRate"/> as <c>cer</c>, <see cref="ErrorRates.WordErrorRate"/> as <c>wer</c>
    /// and <see cref="ErrorRates.UtteranceAccuracy"/> as <c>utterance_accuracy</c>, keys prefixed by <paramref name="prefix"/>.
    /// </summary>
    public static Dictionary<string, double> Metrics(IReadOnlyList<string> references, IReadOnlyList<string> hypotheses, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(prefix);
        return new Dictionary<string, double>
        {
            [prefix + "cer"] = ErrorRates.CharacterErrorRate(hypotheses, references),
            [prefix + "wer"] = ErrorRates.WordErrorRate(hypotheses, references),
            [prefix + "utterance_accuracy"] = ErrorRates.UtteranceAccuracy(hypotheses, references),
        };
    }
}
