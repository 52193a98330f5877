namespace Recur.Scoring;

/// <summary>
/// Label strings ↔ class indices of a classifier: index i is <see cref="Labels"/>[i]. Looking up a label the map does
/// not hold is an error that names the source, the line and the known labels.
/// </summary>
public sealed class LabelMap
{
    private readonly Dictionary<string, int> index;

    /// <summary>A map with the given labels in this order (class i is the i-th label); labels must be distinct.</summary>
    public LabelMap(IEnumerable<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        Labels = labels.ToList();
        index = new Dictionary<string, int>(Labels.Count, StringComparer.Ordinal);
        for (int i = 0; i < Labels.Count; i++)
            if (!index.TryAdd(Labels[i], i)) throw new ArgumentException($"labels must be distinct: '{Labels[i]}' appears at {index[Labels[i]]} and {i}", nameof(labels));
    }

    /// <summary>The distinct labels seen in training data, in ordinal order (the order <c>recur train</c> gives its classes).</summary>
    public static LabelMap FromData(IEnumerable<string> labels) => new(labels.Distinct().Order(StringComparer.Ordinal));

    /// <summary>The labels, by class index.</summary>
    public IReadOnlyList<string> Labels { get; }

    /// <summary>Number of classes.</summary>
    public int Count => Labels.Count;

    /// <summary>The label of class <paramref name="classIndex"/>.</summary>
    public string this[int classIndex] => Labels[classIndex];

    /// <summary>The class of a label, or false when the map does not hold it.</summary>
    public bool TryGetIndex(string label, out int classIndex) => index.TryGetValue(label, out classIndex);

    /// <summary>The class of a label; an unknown label is a <see cref="RecurFormatException"/> at <paramref name="source"/>, <paramref name="location"/>.</summary>
    public int IndexOf(string label, string source, string location) =>
        index.TryGetValue(label, out int id) ? id
            : throw new RecurFormatException(source, location, $"expected one of the model's labels [{string.Join(", ", Labels.Take(20))}{(Labels.Count > 20 ? ", ..." : "")}], found '{label}'");

    /// <summary>The classes of labelled lines of <paramref name="source"/>; an unknown label is an error at "line N field 'label'".</summary>
    public int[] Indices(IEnumerable<(string Label, int Line)> items, string source) =>
        items.Select(it => IndexOf(it.Label, source, $"line {it.Line} field 'label'")).ToArray();
}
