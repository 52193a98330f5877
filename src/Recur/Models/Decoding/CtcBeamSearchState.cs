namespace Recur.Models.Decoding;

/// <summary>
/// A <see cref="CtcPrefixBeamSearch"/> in progress: feed frames as they arrive with <see cref="Advance"/>, read the
/// current best prefix with <see cref="Best"/>, and end with <see cref="Finish"/>. Frames fed in any number of chunks
/// give exactly what one call with all of them gives. Prefixes are nodes of a trie, so a prefix is extended, compared
/// and merged without copying its labels.
/// </summary>
public sealed class CtcBeamSearchState
{
    private readonly CtcPrefixBeamSearch search;
    private readonly int classes;
    private readonly double[] logProbs;
    private readonly List<Node> touched = [];
    private List<Node> beam;
    private int frame;
    private int nodes;

    internal CtcBeamSearchState(CtcPrefixBeamSearch search, int classes)
    {
        if (classes < 1) throw new ArgumentOutOfRangeException(nameof(classes), classes, "classes must be >= 1 (the blank)");
        this.search = search;
        this.classes = classes;
        logProbs = new double[classes];
        var root = new Node(null, 0, CtcConstraint.Start, nodes++) { Blank = 0, Label = double.NegativeInfinity };
        beam = [root];
    }

    /// <summary>Frames consumed so far.</summary>
    public int Frames => frame;

    /// <summary>Whether <see cref="Finish"/> has been called.</summary>
    public bool Finished { get; private set; }

    /// <summary>
    /// The most probable prefix so far (complete or not), as a partial result while frames arrive; empty with
    /// log-probability -inf when no prefix is reachable (a constraint that allows none of the frames' finite classes).
    /// </summary>
    public CtcHypothesis Best => beam.Count == 0 ? new([], double.NegativeInfinity) : new(beam[0].Labels(), beam[0].Total);

    /// <summary>Consumes frames: (k, C) row-major logits or log-probabilities, k >= 0.</summary>
    public void Advance(ReadOnlySpan<float> scores)
    {
        if (Finished) throw new InvalidOperationException("the search has finished; begin a new one");
        if (scores.Length % classes != 0)
            throw new ArgumentException($"scores.Length must be a multiple of classes = {classes} (frames x classes), got {scores.Length}", nameof(scores));
        for (int f = 0; f < scores.Length / classes; f++)
        {
            var row = scores.Slice(f * classes, classes);
            for (int k = 0; k < classes; k++)
                if (float.IsNaN(row[k]) || float.IsPositiveInfinity(row[k]))
                    throw new ArgumentException($"scores of frame {frame} class {k} is {row[k]}", nameof(scores));
            double lse = CtcPrefixBeamSearch.LogSumExp(row);
            if (double.IsNegativeInfinity(lse)) throw new ArgumentException($"scores of frame {frame} are all -inf", nameof(scores));
            for (int k = 0; k < classes; k++) logProbs[k] = row[k] - lse;
            Step();
        }
    }

    /// <summary>
    /// Ends the search: the hypotheses of the final beam, most probable first (with a constraint, only those the
    /// automaton accepts as complete; possibly none).
    /// </summary>
    public IReadOnlyList<CtcHypothesis> Finish()
    {
        Finished = true;
        var constraint = search.Constraint;
        return [.. beam.Where(n => constraint is null || constraint.IsFinal(n.State)).Select(n => new CtcHypothesis(n.Labels(), n.Total))];
    }

    private void Step()
    {
        frame++;
        touched.Clear();
        var constraint = search.Constraint;
        double blank = logProbs[0];
        foreach (var node in beam)
        {
            double total = node.Total;
            // stays l by a blank
            Add(node).NextBlank = CtcPrefixBeamSearch.LogAdd(node.NextBlank, total + blank);
            // stays l by repeating its last label
            if (node.Parent is not null)
                node.NextLabel = CtcPrefixBeamSearch.LogAdd(node.NextLabel, node.Label + logProbs[node.Last]);
            for (int c = 1; c < classes; c++)
            {
                int state = constraint is null ? 0 : constraint.Next(node.State, c);
                if (state < 0) continue;
                var child = Add(node.Child(c, state, ref nodes));
                // a repeat of the last label needs a blank between: only the alignments ending in a blank extend
                double from = node.Parent is not null && c == node.Last ? node.Blank : total;
                child.NextLabel = CtcPrefixBeamSearch.LogAdd(child.NextLabel, from + logProbs[c]);
            }
        }
        foreach (var n in touched)
        {
            n.Blank = n.NextBlank;
            n.Label = n.NextLabel;
        }
        // the most probable first; ties to the older prefix, so the order never depends on anything but the scores
        touched.Sort(static (a, b) => a.Total != b.Total ? b.Total.CompareTo(a.Total) : a.Id.CompareTo(b.Id));
        // prefixes no alignment reaches yet (a repeat with no blank between, say) are not hypotheses
        int keep = 0;
        while (keep < touched.Count && keep < search.BeamWidth && !double.IsNegativeInfinity(touched[keep].Total)) keep++;
        beam = touched.GetRange(0, keep);
    }

    /// <summary>Marks <paramref name="node"/> as reached in this frame, its next probabilities starting from zero.</summary>
    private Node Add(Node node)
    {
        if (node.Stamp != frame)
        {
            node.Stamp = frame;
            node.NextBlank = double.NegativeInfinity;
            node.NextLabel = double.NegativeInfinity;
            touched.Add(node);
        }
        return node;
    }

    /// <summary>A prefix: its parent, its last label, its constraint state, and log p_b, log p_nb.</summary>
    private sealed class Node(Node? parent, int last, int state, int id)
    {
        private Dictionary<int, Node>? children;
        public readonly Node? Parent = parent;
        public readonly int Last = last;
        public readonly int State = state;
        public readonly int Id = id;
        public readonly int Length = parent is null ? 0 : parent.Length + 1;
        public double Blank = double.NegativeInfinity, Label = double.NegativeInfinity;
        public double NextBlank, NextLabel;
        public int Stamp = -1;

        public double Total => CtcPrefixBeamSearch.LogAdd(Blank, Label);

        public Node Child(int label, int childState, ref int counter)
        {
            children ??= [];
            if (!children.TryGetValue(label, out var child)) children[label] = child = new Node(this, label, childState, counter++);
            return child;
        }

        public int[] Labels()
        {
            var labels = new int[Length];
            for (var n = this; n.Parent is not null; n = n.Parent) labels[n.Length - 1] = n.Last;
            return labels;
        }
    }
}
