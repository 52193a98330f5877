using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.ML.Tokenizers;

namespace Recur.Data;

/// <summary>Turns text into token ids and back, with a vocabulary that is saved with the model.</summary>
public interface ITokenizer
{
    /// <summary>"char", "word", "bpe" or "ptb".</summary>
    string Kind { get; }

    /// <summary>The token ids this tokenizer produces.</summary>
    Vocabulary Vocabulary { get; }

    /// <summary>Token ids of <paramref name="text"/>; unknown tokens map to <see cref="Vocabulary.UnkId"/>.</summary>
    int[] Encode(string text);

    /// <summary>Text of token ids (special tokens are skipped).</summary>
    string Decode(IEnumerable<int> ids);

    /// <summary>The tokenizer as JSON (kind, options, tokens), for model files.</summary>
    void Write(Utf8JsonWriter writer);
}

/// <summary>Factory and JSON round trip for tokenizers.</summary>
public static class Tokenizers
{
    /// <summary>Reads a tokenizer written by <see cref="ITokenizer.Write"/>.</summary>
    public static ITokenizer Read(JsonElement e)
    {
        string kind = e.GetProperty("kind").GetString() ?? "";
        var tokens = e.GetProperty("tokens").EnumerateArray().Select(t => t.GetString() ?? "").ToList();
        var vocab = new Vocabulary(tokens);
        return kind switch
        {
            "char" => new CharTokenizer(vocab),
            "word" => new WordTokenizer(vocab, e.TryGetProperty("lowercase", out var lc) && lc.GetBoolean()),
            "bpe" => new BpeTokenizer(vocab),
            "ptb" => new PtbTokenizer(vocab),
            _ => throw new JsonException($"unknown tokenizer kind '{kind}' (expected char, word, bpe or ptb)"),
        };
    }

    /// <summary>
    /// A prompt and its generated continuation as one text: word tokens (word, ptb) are words, so a space comes between
    /// the prompt and the first generated word (unless either side has whitespace there, such as a ptb line break);
    /// character and BPE tokens carry their own spacing.
    /// </summary>
    public static string Continue(ITokenizer tokenizer, string prompt, IEnumerable<int> continuation)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(prompt);
        string next = tokenizer.Decode(continuation);
        bool words = tokenizer.Kind is "word" or "ptb";
        bool space = words && prompt.Length > 0 && next.Length > 0 && !char.IsWhiteSpace(prompt[^1]) && !char.IsWhiteSpace(next[0]);
        return space ? prompt + " " + next : prompt + next;
    }

    internal static void WriteTokens(Utf8JsonWriter w, string kind, Vocabulary v, Action<Utf8JsonWriter>? extra = null)
    {
        w.WriteStartObject();
        w.WriteString("kind", kind);
        extra?.Invoke(w);
        w.WriteStartArray("tokens");
        foreach (var t in v.Tokens) w.WriteStringValue(t);
        w.WriteEndArray();
        w.WriteEndObject();
    }

    internal static string DecodeSkippingSpecials(Vocabulary v, IEnumerable<int> ids, string separator)
    {
        var sb = new StringBuilder();
        bool first = true;
        foreach (int id in ids)
        {
            if (id == v.PadId) continue;
            string t = v.Token(id);
            if (t is Vocabulary.Bos or Vocabulary.Eos) continue;
            if (!first) sb.Append(separator);
            sb.Append(t);
            first = false;
        }
        return sb.ToString();
    }
}

/// <summary>One token per Unicode code point (so surrogate pairs stay whole).</summary>
public sealed class CharTokenizer : ITokenizer
{
    /// <summary>Wraps an existing vocabulary of single characters.</summary>
    public CharTokenizer(Vocabulary vocabulary) => Vocabulary = vocabulary;

    /// <summary>Builds the vocabulary from training text.</summary>
    public static CharTokenizer Build(string text, int minCount = 1, IEnumerable<string>? extraSpecials = null) =>
        new(Vocabulary.Build(Split(text), minCount, extraSpecials: extraSpecials));

    /// <inheritdoc/>
    public string Kind => "char";
    /// <inheritdoc/>
    public Vocabulary Vocabulary { get; }

    /// <summary>The code points of <paramref name="text"/> as strings.</summary>
    public static IEnumerable<string> Split(string text)
    {
        foreach (var r in text.EnumerateRunes()) yield return r.ToString();
    }

    /// <inheritdoc/>
    public int[] Encode(string text)
    {
        var ids = new List<int>(text.Length);
        foreach (var r in text.EnumerateRunes()) ids.Add(Vocabulary.Id(r.ToString()));
        return [.. ids];
    }

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids) => Tokenizers.DecodeSkippingSpecials(Vocabulary, ids, "");

    /// <inheritdoc/>
    public void Write(Utf8JsonWriter writer) => Tokenizers.WriteTokens(writer, Kind, Vocabulary);
}

/// <summary>
/// Words and punctuation marks as tokens (<c>\w+(?:'\w+)?|[^\w\s]</c>), optionally lower-cased; words seen fewer than
/// minCount times in training map to <c>&lt;unk&gt;</c>.
/// </summary>
public sealed partial class WordTokenizer : ITokenizer
{
    [GeneratedRegex(@"\w+(?:'\w+)?|[^\w\s]", RegexOptions.CultureInvariant)]
    private static partial Regex WordPattern();

    /// <summary>Wraps an existing vocabulary.</summary>
    public WordTokenizer(Vocabulary vocabulary, bool lowercase)
    {
        Vocabulary = vocabulary;
        Lowercase = lowercase;
    }

    /// <summary>Builds the vocabulary from training texts.</summary>
    public static WordTokenizer Build(IEnumerable<string> texts, bool lowercase = true, int minCount = 1, int? maxSize = null, IEnumerable<string>? extraSpecials = null) =>
        new(Vocabulary.Build(texts.SelectMany(t => Split(t, lowercase)), minCount, maxSize, extraSpecials), lowercase);

    /// <inheritdoc/>
    public string Kind => "word";
    /// <inheritdoc/>
    public Vocabulary Vocabulary { get; }
    /// <summary>Whether text is lower-cased (invariant culture) before splitting.</summary>
    public bool Lowercase { get; }

    /// <summary>The word and punctuation tokens of <paramref name="text"/>.</summary>
    public static IEnumerable<string> Split(string text, bool lowercase)
    {
        if (lowercase) text = text.ToLowerInvariant();
        foreach (Match m in WordPattern().Matches(text)) yield return m.Value;
    }

    /// <inheritdoc/>
    public int[] Encode(string text) => Split(text, Lowercase).Select(Vocabulary.Id).ToArray();

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids) => Tokenizers.DecodeSkippingSpecials(Vocabulary, ids, " ");

    /// <inheritdoc/>
    public void Write(Utf8JsonWriter writer) =>
        Tokenizers.WriteTokens(writer, Kind, Vocabulary, w => w.WriteBoolean("lowercase", Lowercase));
}

/// <summary>
/// Byte-pair encoding with GPT-2's merges (Microsoft.ML.Tokenizers, data bundled, no download), reduced to the
/// subword tokens seen in training: each token of the compact vocabulary is a GPT-2 token string, and unseen subwords
/// map to <c>&lt;unk&gt;</c>. Keeps embedding and softmax small while splitting rare words into known pieces.
/// </summary>
public sealed class BpeTokenizer : ITokenizer
{
    private static readonly Lazy<TiktokenTokenizer> Gpt2 = new(() => TiktokenTokenizer.CreateForModel("gpt2"));

    /// <summary>Wraps an existing vocabulary of GPT-2 token strings.</summary>
    public BpeTokenizer(Vocabulary vocabulary) => Vocabulary = vocabulary;

    /// <summary>Builds the compact vocabulary from training texts.</summary>
    public static BpeTokenizer Build(IEnumerable<string> texts, int minCount = 1, int? maxSize = null, IEnumerable<string>? extraSpecials = null) =>
        new(Vocabulary.Build(texts.SelectMany(Split), minCount, maxSize, extraSpecials));

    /// <inheritdoc/>
    public string Kind => "bpe";
    /// <inheritdoc/>
    public Vocabulary Vocabulary { get; }

    /// <summary>GPT-2 BPE token strings of <paramref name="text"/>.</summary>
    public static IEnumerable<string> Split(string text) =>
        Gpt2.Value.EncodeToTokens(text, out _).Select(t => t.Value);

    /// <inheritdoc/>
    public int[] Encode(string text) => Split(text).Select(Vocabulary.Id).ToArray();

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids) => Tokenizers.DecodeSkippingSpecials(Vocabulary, ids, "");

    /// <inheritdoc/>
    public void Write(Utf8JsonWriter writer) => Tokenizers.WriteTokens(writer, Kind, Vocabulary);
}

/// <summary>
/// The standard reading of word-level language-model files (Penn Treebank as prepared by Mikolov, WikiText): one
/// sentence per line, tokens separated by spaces (or tabs) and nothing else, every newline read as an
/// <c>&lt;eos&gt;</c> token, and <c>&lt;unk&gt;</c> in the file read as the unknown token. Case, punctuation and digits
/// are kept as the file has them, so a file of W words on N lines gives exactly W + N tokens and the vocabulary built
/// from it holds exactly the file's types (plus <c>&lt;pad&gt;</c>, id 0, which never occurs). Decoding writes
/// tokens separated by spaces and <c>&lt;eos&gt;</c> as a line break.
/// </summary>
public sealed class PtbTokenizer : ITokenizer
{
    private static readonly char[] Separators = [' ', '\t'];

    /// <summary>Wraps an existing vocabulary (which must hold <see cref="Vocabulary.Eos"/>).</summary>
    public PtbTokenizer(Vocabulary vocabulary)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        if (!vocabulary.Contains(Vocabulary.Eos)) throw new ArgumentException($"the vocabulary of a ptb tokenizer holds {Vocabulary.Eos}", nameof(vocabulary));
        Vocabulary = vocabulary;
        EosId = vocabulary.Id(Vocabulary.Eos);
    }

    /// <summary>
    /// Builds the vocabulary from training texts: every type they hold, most frequent first (types seen fewer than
    /// <paramref name="minCount"/> times are left to <c>&lt;unk&gt;</c>), with <c>&lt;eos&gt;</c> at id 2.
    /// </summary>
    public static PtbTokenizer Build(IEnumerable<string> texts, int minCount = 1) =>
        new(Vocabulary.Build(texts.SelectMany(Split), minCount, extraSpecials: [Vocabulary.Eos]));

    /// <inheritdoc/>
    public string Kind => "ptb";
    /// <inheritdoc/>
    public Vocabulary Vocabulary { get; }
    /// <summary>Id of <see cref="Vocabulary.Eos"/>.</summary>
    public int EosId { get; }

    /// <summary>
    /// The tokens of <paramref name="text"/>: the space-separated tokens of each line, and <c>&lt;eos&gt;</c> for each
    /// newline (<c>\n</c> or <c>\r\n</c>). Text after the last newline gives its tokens without an <c>&lt;eos&gt;</c>
    /// (a prompt continues its sentence).
    /// </summary>
    public static IEnumerable<string> Split(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        int start = 0;
        while (start <= text.Length)
        {
            int nl = text.IndexOf('\n', start);
            int end = nl < 0 ? text.Length : nl;
            if (nl >= 0 && end > start && text[end - 1] == '\r') end--;
            foreach (var t in text.AsSpan(start, end - start).ToString().Split(Separators, StringSplitOptions.RemoveEmptyEntries)) yield return t;
            if (nl < 0) yield break;
            yield return Vocabulary.Eos;
            start = nl + 1;
        }
    }

    /// <inheritdoc/>
    public int[] Encode(string text) => Split(text).Select(Vocabulary.Id).ToArray();

    /// <inheritdoc/>
    public string Decode(IEnumerable<int> ids)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var sb = new StringBuilder();
        bool lineStart = true;
        foreach (int id in ids)
        {
            if (id == Vocabulary.PadId) continue;
            if (id == EosId) { sb.Append('\n'); lineStart = true; continue; }
            string t = Vocabulary.Token(id);
            if (t == Vocabulary.Bos) continue;
            if (!lineStart) sb.Append(' ');
            sb.Append(t);
            lineStart = false;
        }
        return sb.ToString();
    }

    /// <inheritdoc/>
    public void Write(Utf8JsonWriter writer) => Tokenizers.WriteTokens(writer, Kind, Vocabulary);
}
