namespace Recur.Models.Decoding;

/// <summary>
/// The label sequences a CTC decoder may output, as a deterministic automaton over labels (1..C-1; the blank never
/// appears in an output): <see cref="Next"/> gives the state after a label, or -1 when the label may not follow, and
/// <see cref="IsFinal"/> says whether the sequence read so far is a complete output. Built from a list of whole
/// transcripts (a prefix trie), from words joined by a separator, from digit strings of given lengths, or as the union
/// of two constraints. Every state can still reach a final state, so a prefix the automaton accepts can always be
/// completed. <see cref="CtcPrefixBeamSearch"/> extends a prefix only by labels the automaton allows, and returns only
/// hypotheses that end in a final state.
/// </summary>
public sealed class CtcConstraint
{
    /// <summary>The state before any label.</summary>
    public const int Start = 0;

    private readonly Dictionary<int, int>[] next;
    private readonly bool[] final;

    private CtcConstraint(List<Dictionary<int, int>> next, List<bool> final)
    {
        // Keep only states from which a final state can be reached, renumbered in order (Start stays 0 when it survives).
        int n = next.Count;
        var live = new bool[n];
        for (bool changed = true; changed;)
        {
            changed = false;
            for (int s = 0; s < n; s++)
                if (!live[s] && (final[s] || next[s].Values.Any(t => live[t]))) { live[s] = true; changed = true; }
        }
        if (!live[Start]) throw new ArgumentException("the constraint accepts no label sequence at all");
        var id = new int[n];
        int count = 0;
        for (int s = 0; s < n; s++) id[s] = live[s] ? count++ : -1;
        this.next = new Dictionary<int, int>[count];
        this.final = new bool[count];
        for (int s = 0; s < n; s++)
        {
            if (!live[s]) continue;
            this.final[id[s]] = final[s];
            this.next[id[s]] = next[s].Where(kv => live[kv.Value]).ToDictionary(kv => kv.Key, kv => id[kv.Value]);
        }
    }

    /// <summary>Number of states.</summary>
    public int StateCount => next.Length;

    /// <summary>The state after <paramref name="label"/> in <paramref name="state"/>, or -1 when the label is not allowed there.</summary>
    public int Next(int state, int label) => next[state].TryGetValue(label, out int t) ? t : -1;

    /// <summary>Whether the labels read to reach <paramref name="state"/> form a complete output.</summary>
    public bool IsFinal(int state) => final[state];

    /// <summary>Whether the automaton accepts <paramref name="labels"/> as a complete output.</summary>
    public bool Accepts(ReadOnlySpan<int> labels)
    {
        int s = Start;
        foreach (int l in labels)
            if ((s = Next(s, l)) < 0) return false;
        return IsFinal(s);
    }

    /// <summary>Exactly the given label sequences (a command list, say); an empty sequence allows the empty output.</summary>
    public static CtcConstraint Transcripts(IEnumerable<int[]> transcripts)
    {
        ArgumentNullException.ThrowIfNull(transcripts);
        var b = new Builder();
        int added = 0;
        foreach (var t in transcripts)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(transcripts));
            b.MarkFinal(b.AddPath(Start, t, nameof(transcripts)));
            added++;
        }
        if (added == 0) throw new ArgumentException("transcripts must hold at least one label sequence", nameof(transcripts));
        return b.Build();
    }

    /// <summary>
    /// One or more of the given words with one <paramref name="separator"/> label between words (no separator at the
    /// start or end): <c>word (separator word)*</c>.
    /// </summary>
    public static CtcConstraint Words(IEnumerable<int[]> words, int separator)
    {
        ArgumentNullException.ThrowIfNull(words);
        if (separator < 1) throw new ArgumentOutOfRangeException(nameof(separator), separator, "separator must be a label >= 1 (0 is the blank)");
        var b = new Builder();
        int afterSeparator = b.NewState();   // the start of every word after the first
        int added = 0;
        foreach (var w in words)
        {
            ArgumentNullException.ThrowIfNull(w, nameof(words));
            if (w.Length == 0) throw new ArgumentException($"words[{added}] is empty", nameof(words));
            if (Array.IndexOf(w, separator) >= 0) throw new ArgumentException($"words[{added}] contains the separator label {separator}", nameof(words));
            foreach (int start in new[] { Start, afterSeparator })
            {
                int end = b.AddPath(start, w, nameof(words));
                b.MarkFinal(end);
                b.AddEdge(end, separator, afterSeparator, nameof(words));
            }
            added++;
        }
        if (added == 0) throw new ArgumentException("words must hold at least one word", nameof(words));
        return b.Build();
    }

    /// <summary>
    /// Exactly the given texts, each character mapped to its label by <paramref name="labelOf"/> (the model's
    /// vocabulary; it should throw for a character the vocabulary lacks).
    /// </summary>
    public static CtcConstraint Transcripts(IEnumerable<string> transcripts, Func<char, int> labelOf)
    {
        ArgumentNullException.ThrowIfNull(transcripts);
        ArgumentNullException.ThrowIfNull(labelOf);
        return Transcripts(transcripts.Select(t => (t ?? throw new ArgumentNullException(nameof(transcripts))).Select(labelOf).ToArray()).ToList());
    }

    /// <summary>
    /// Words from <paramref name="words"/> joined by single <paramref name="separator"/> characters, characters mapped to
    /// labels by <paramref name="labelOf"/>.
    /// </summary>
    public static CtcConstraint Words(IEnumerable<string> words, Func<char, int> labelOf, char separator = ' ')
    {
        ArgumentNullException.ThrowIfNull(words);
        ArgumentNullException.ThrowIfNull(labelOf);
        return Words(words.Select(w => (w ?? throw new ArgumentNullException(nameof(words))).Select(labelOf).ToArray()).ToList(), labelOf(separator));
    }

    /// <summary>
    /// Strings of <paramref name="minLength"/> to <paramref name="maxLength"/> digits, each digit one of
    /// <paramref name="digitLabels"/>; with a <paramref name="separator"/> label (>= 1), one separator between
    /// consecutive digits ("3 1 4"), without (-1) none ("314").
    /// </summary>
    public static CtcConstraint DigitStrings(IEnumerable<int> digitLabels, int minLength, int maxLength, int separator = -1)
    {
        ArgumentNullException.ThrowIfNull(digitLabels);
        int[] digits = [.. digitLabels.Distinct()];
        if (digits.Length == 0) throw new ArgumentException("digitLabels must hold at least one label", nameof(digitLabels));
        if (digits.Any(d => d < 1)) throw new ArgumentOutOfRangeException(nameof(digitLabels), "digit labels must be >= 1 (0 is the blank)");
        if (minLength < 1 || maxLength < minLength)
            throw new ArgumentOutOfRangeException(nameof(maxLength), $"digit string lengths must satisfy 1 <= minLength <= maxLength (got {minLength}..{maxLength})");
        if (separator == 0 || separator < -1) throw new ArgumentOutOfRangeException(nameof(separator), separator, "separator must be a label >= 1, or -1 for none");
        if (digits.Contains(separator)) throw new ArgumentException($"the separator {separator} is also a digit label", nameof(separator));
        var b = new Builder();
        // state after k digits (k = 1..max), and with a separator, the state after k digits and a separator
        var afterDigits = new int[maxLength + 1];
        afterDigits[0] = Start;
        for (int k = 1; k <= maxLength; k++) afterDigits[k] = b.NewState();
        for (int k = 0; k < maxLength; k++)
        {
            int from = afterDigits[k];
            if (separator > 0 && k > 0)
            {
                from = b.NewState();
                b.AddEdge(afterDigits[k], separator, from, nameof(separator));
            }
            foreach (int d in digits) b.AddEdge(from, d, afterDigits[k + 1], nameof(digitLabels));
        }
        for (int k = minLength; k <= maxLength; k++) b.MarkFinal(afterDigits[k]);
        return b.Build();
    }

    /// <summary>The outputs either constraint accepts (a command list or a digit string, say): the product automaton.</summary>
    public static CtcConstraint Union(CtcConstraint a, CtcConstraint b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var builder = new Builder();
        var ids = new Dictionary<(int, int), int> { [(Start, Start)] = Start };
        var queue = new Queue<(int, int)>();
        queue.Enqueue((Start, Start));
        while (queue.Count > 0)
        {
            var (sa, sb) = queue.Dequeue();
            int from = ids[(sa, sb)];
            if ((sa >= 0 && a.IsFinal(sa)) || (sb >= 0 && b.IsFinal(sb))) builder.MarkFinal(from);
            var labels = new SortedSet<int>();
            if (sa >= 0) labels.UnionWith(a.next[sa].Keys);
            if (sb >= 0) labels.UnionWith(b.next[sb].Keys);
            foreach (int l in labels)
            {
                var to = (sa >= 0 ? a.Next(sa, l) : -1, sb >= 0 ? b.Next(sb, l) : -1);
                if (!ids.TryGetValue(to, out int id))
                {
                    ids[to] = id = builder.NewState();
                    queue.Enqueue(to);
                }
                builder.AddEdge(from, l, id, nameof(a));
            }
        }
        return builder.Build();
    }

    /// <summary>An automaton under construction: states are indices, the start is state 0.</summary>
    private sealed class Builder
    {
        private readonly List<Dictionary<int, int>> next = [[]];
        private readonly List<bool> final = [false];

        public int NewState()
        {
            next.Add([]);
            final.Add(false);
            return next.Count - 1;
        }

        public void MarkFinal(int state) => final[state] = true;

        public void AddEdge(int from, int label, int to, string argument)
        {
            if (label < 1) throw new ArgumentOutOfRangeException(argument, label, $"labels must be >= 1 (0 is the blank), got {label}");
            if (next[from].TryGetValue(label, out int existing) && existing != to)
                throw new InvalidOperationException($"label {label} already leads elsewhere from state {from}");
            next[from][label] = to;
        }

        /// <summary>Follows (creating as needed) the trie path of <paramref name="labels"/> from <paramref name="from"/>; returns its end.</summary>
        public int AddPath(int from, int[] labels, string argument)
        {
            int s = from;
            foreach (int l in labels)
            {
                if (l < 1) throw new ArgumentOutOfRangeException(argument, l, $"labels must be >= 1 (0 is the blank), got {l}");
                if (!next[s].TryGetValue(l, out int t))
                {
                    t = NewState();
                    next[s][l] = t;
                }
                s = t;
            }
            return s;
        }

        public CtcConstraint Build() => new(next, final);
    }
}
