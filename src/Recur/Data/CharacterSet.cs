using System.Globalization;
using System.Text;

namespace Recur.Data;

/// <summary>
/// The output symbols of a CTC recogniser: index 0 is the blank, indices 1..N the transcript characters in ordinal
/// order. Characters are UTF-16 code units outside the surrogate range, or whole surrogate pairs (as strings).
/// <see cref="Encode"/> refuses a character the set does not hold, naming it and where it was found.
/// </summary>
public sealed class CharacterSet
{
    private readonly Dictionary<string, int> index;

    /// <summary>A set over <paramref name="symbols"/> (each one text element, no duplicates); the blank is added in front.</summary>
    public CharacterSet(IEnumerable<string> symbols)
    {
        ArgumentNullException.ThrowIfNull(symbols);
        Symbols = symbols.ToArray();
        index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < Symbols.Count; i++)
        {
            if (string.IsNullOrEmpty(Symbols[i])) throw new ArgumentException($"symbol {i} is empty", nameof(symbols));
            if (!index.TryAdd(Symbols[i], i + 1)) throw new ArgumentException($"symbol '{Symbols[i]}' appears twice", nameof(symbols));
        }
    }

    /// <summary>The set of every character of <paramref name="texts"/>, in ordinal order.</summary>
    public static CharacterSet Build(IEnumerable<string> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var seen = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var t in texts) foreach (var s in Split(t)) seen.Add(s);
        return new CharacterSet(seen);
    }

    /// <summary>The blank's index.</summary>
    public const int Blank = 0;

    /// <summary>The characters; character <c>i</c> has index <c>i + 1</c>.</summary>
    public IReadOnlyList<string> Symbols { get; }

    /// <summary>Output classes: the characters and the blank.</summary>
    public int Count => Symbols.Count + 1;

    /// <summary>
    /// The indices of <paramref name="text"/>'s characters; a character not in the set is a
    /// <see cref="RecurFormatException"/> naming <paramref name="source"/>, the character and its position.
    /// </summary>
    public int[] Encode(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        var result = new List<int>(text.Length);
        int position = 0;
        foreach (var s in Split(text))
        {
            position++;
            if (!index.TryGetValue(s, out int id))
                throw new RecurFormatException(source, "transcript",
                    $"character {Describe(s)} (position {position.ToString(CultureInfo.InvariantCulture)} of '{text}') is not in the model's vocabulary; expected one of {string.Join(" ", Symbols.Select(Describe))}");
            result.Add(id);
        }
        return result.ToArray();
    }

    /// <summary>The text of a sequence of indices (the blank and out-of-range indices write nothing).</summary>
    public string Decode(IEnumerable<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var b = new StringBuilder();
        foreach (int i in indices) if (i >= 1 && i <= Symbols.Count) b.Append(Symbols[i - 1]);
        return b.ToString();
    }

    private static IEnumerable<string> Split(string text)
    {
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) { yield return text.Substring(i, 2); i++; }
            else yield return text[i].ToString();
        }
    }

    private static string Describe(string s) =>
        s.Length == 1 && (char.IsControl(s[0]) || char.IsWhiteSpace(s[0])) ? $"U+{(int)s[0]:X4}" : $"'{s}'";
}
