namespace Recur.Data;

/// <summary>
/// A token &lt;-&gt; id map. Special tokens come first: <c>&lt;pad&gt;</c> = 0 and <c>&lt;unk&gt;</c> = 1 always, then
/// any others asked for, then the regular tokens by descending frequency (ties in ordinal order), so a vocabulary
/// built from the same data is always the same.
/// </summary>
public sealed class Vocabulary
{
    /// <summary>Padding token, id 0.</summary>
    public const string Pad = "<pad>";
    /// <summary>Unknown token, id 1.</summary>
    public const string Unk = "<unk>";
    /// <summary>Begin-of-sequence token (when requested).</summary>
    public const string Bos = "<bos>";
    /// <summary>End-of-sequence token (when requested).</summary>
    public const string Eos = "<eos>";

    private readonly List<string> tokens;
    private readonly Dictionary<string, int> ids;

    /// <summary>Creates a vocabulary from tokens in id order; the first two must be <see cref="Pad"/> and <see cref="Unk"/>.</summary>
    public Vocabulary(IEnumerable<string> tokensInIdOrder)
    {
        ArgumentNullException.ThrowIfNull(tokensInIdOrder);
        tokens = [.. tokensInIdOrder];
        if (tokens.Count < 2 || tokens[0] != Pad || tokens[1] != Unk)
            throw new ArgumentException($"a vocabulary starts with {Pad} and {Unk}", nameof(tokensInIdOrder));
        ids = new Dictionary<string, int>(tokens.Count, StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
            if (!ids.TryAdd(tokens[i], i))
                throw new ArgumentException($"token '{tokens[i]}' appears twice (ids {ids[tokens[i]]} and {i})", nameof(tokensInIdOrder));
    }

    /// <summary>Number of tokens, specials included.</summary>
    public int Count => tokens.Count;

    /// <summary>Tokens in id order.</summary>
    public IReadOnlyList<string> Tokens => tokens;

    /// <summary>Id of <see cref="Pad"/>.</summary>
    public int PadId => 0;

    /// <summary>Id of <see cref="Unk"/>.</summary>
    public int UnkId => 1;

    /// <summary>The id of a token, or <see cref="UnkId"/>.</summary>
    public int Id(string token) => ids.TryGetValue(token, out int id) ? id : UnkId;

    /// <summary>Whether the token has its own id.</summary>
    public bool Contains(string token) => ids.ContainsKey(token);

    /// <summary>The token of an id.</summary>
    public string Token(int id) =>
        (uint)id < (uint)tokens.Count ? tokens[id] : throw new ArgumentOutOfRangeException(nameof(id), id, $"id must be in [0, {tokens.Count})");

    /// <summary>
    /// Builds a vocabulary from a token stream: tokens seen at least <paramref name="minCount"/> times, the most
    /// frequent first, at most <paramref name="maxSize"/> in all (specials included).
    /// </summary>
    public static Vocabulary Build(IEnumerable<string> stream, int minCount = 1, int? maxSize = null, IEnumerable<string>? extraSpecials = null)
    {
        if (minCount < 1) throw new ArgumentOutOfRangeException(nameof(minCount), minCount, "minCount must be >= 1");
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in stream) counts[t] = counts.GetValueOrDefault(t) + 1;
        var list = new List<string> { Pad, Unk };
        foreach (var s in extraSpecials ?? []) if (!list.Contains(s)) list.Add(s);
        foreach (var s in list) counts.Remove(s);
        var regular = counts.Where(kv => kv.Value >= minCount)
            .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => kv.Key);
        foreach (var t in regular)
        {
            if (maxSize is { } m && list.Count >= m) break;
            list.Add(t);
        }
        return new Vocabulary(list);
    }
}
