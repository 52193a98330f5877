using System.Globalization;

namespace Recur.Data;

/// <summary>
/// A set of numeric multivariate sequences of varying length: sequence i has <see cref="Length"/>(i) steps of
/// <see cref="Features"/> values each, stored row-major (step by step) in <see cref="Steps"/>[i], with a name for
/// output lines (<see cref="Ids"/>: the CSV's sequence_id, or the index in an array file) and, for labelled data,
/// a label (a class name, or a number for regression).
/// </summary>
public sealed class NumericSequences
{
    /// <summary>The file the sequences come from (for messages).</summary>
    public required string Source { get; init; }

    /// <summary>Features per step (F).</summary>
    public required int Features { get; init; }

    /// <summary>Each sequence's values, (T_i * F) row-major.</summary>
    public required IReadOnlyList<float[]> Steps { get; init; }

    /// <summary>Each sequence's name: its sequence_id, or its 0-based index in an array file.</summary>
    public required IReadOnlyList<string> Ids { get; init; }

    /// <summary>Where each sequence is in its file, for messages: "line 12" (its first row) or "sequence 3".</summary>
    public required IReadOnlyList<string> Locations { get; init; }

    /// <summary>Each sequence's label as text, or null for unlabelled data.</summary>
    public IReadOnlyList<string>? Labels { get; init; }

    /// <summary>Number of sequences (N).</summary>
    public int Count => Steps.Count;

    /// <summary>Steps of sequence <paramref name="i"/> (T_i).</summary>
    public int Length(int i) => Steps[i].Length / Features;

    /// <summary>The sequences at <paramref name="indices"/>, in that order.</summary>
    public NumericSequences Select(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        return new NumericSequences
        {
            Source = Source, Features = Features,
            Steps = [.. indices.Select(i => Steps[i])], Ids = [.. indices.Select(i => Ids[i])], Locations = [.. indices.Select(i => Locations[i])],
            Labels = Labels is null ? null : [.. indices.Select(i => Labels[i])],
        };
    }

    /// <summary>The first <paramref name="n"/> sequences (all when there are fewer).</summary>
    public NumericSequences Take(int n) => n >= Count ? this : Select([.. Enumerable.Range(0, n)]);

    /// <summary>Each label as a finite number (regression targets); a label that is not one is an error naming its sequence.</summary>
    public float[] NumericLabels()
    {
        var labels = Labels ?? throw new InvalidOperationException($"{Source}: the sequences have no labels");
        var values = new float[labels.Count];
        for (int i = 0; i < values.Length; i++)
            if (!float.TryParse(labels[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !float.IsFinite(values[i]))
                throw new RecurFormatException(Source, $"{Locations[i]} field 'label'", $"expected a finite number as the target of a regression, found '{labels[i]}'");
        return values;
    }
}

/// <summary>
/// Readers of numeric multivariate sequences: NumPy arrays (<c>.npy</c> features with a separate labels file, or one
/// <c>.npz</c> holding them all) and the long CSV format (one row per step). Variable lengths are given by a
/// <c>lengths</c> array, or by NaN padding at the end of a sequence. See <see cref="ReadArrays"/> and
/// <see cref="ReadLongCsv"/>.
/// </summary>
public static class SequenceFiles
{
    /// <summary>Names of the features array in an <c>.npz</c>, in the order tried.</summary>
    public static readonly IReadOnlyList<string> FeatureArrayNames = ["x", "X"];

    /// <summary>Names of the labels array in an <c>.npz</c>, in the order tried.</summary>
    public static readonly IReadOnlyList<string> LabelArrayNames = ["y", "Y"];

    /// <summary>Name of the optional lengths array in an <c>.npz</c>.</summary>
    public const string LengthsArrayName = "lengths";

    /// <summary>Whether a path names a NumPy array file (<c>.npy</c>, <c>.npz</c>, or either gzip-compressed) rather than a CSV.</summary>
    public static bool IsArrayFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string p = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        return p.EndsWith(".npy", StringComparison.OrdinalIgnoreCase) || p.EndsWith(".npz", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>
    /// Reads sequences from NumPy arrays. An <c>.npz</c> holds the features as <c>x</c> (or <c>X</c>), the labels as
    /// <c>y</c> (or <c>Y</c>, optional) and optionally <c>lengths</c>; an <c>.npy</c> holds the features only, and
    /// <paramref name="labelsPath"/> names the labels (an <c>.npy</c> of N values, or a text file with one label per
    /// line). Features have shape (N, T, F), or (N, T) for one feature per step, any float or integer dtype. A
    /// sequence's length is its <c>lengths</c> entry (values past it are ignored), or else the steps before the first
    /// step whose features are all NaN, after which every value must be NaN (padding). Labels have shape (N,) or
    /// (N, 1): numbers or strings.
    /// </summary>
    /// <param name="path">The <c>.npy</c> or <c>.npz</c> file.</param>
    /// <param name="labelsPath">For an <c>.npy</c>: the labels file (null: unlabelled). For an <c>.npz</c>: must be null.</param>
    /// <param name="limits">File size and sequence length limits.</param>
    public static NumericSequences ReadArrays(string path, string? labelsPath = null, ReadLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        limits ??= ReadLimits.Default;
        string p = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        NpyArray x;
        NpyArray? lengths = null;
        IReadOnlyList<string>? labels = null;
        string labelsSource = labelsPath ?? path;
        if (p.EndsWith(".npz", StringComparison.OrdinalIgnoreCase))
        {
            if (labelsPath is not null)
                throw new RecurFormatException(labelsPath, "file", $"expected no separate labels file for an .npz ({path} holds its labels as 'y'), found one");
            var arrays = NumPy.ReadNpz(path, limits);
            string names = string.Join(", ", arrays.Keys.Select(k => $"'{k}'"));
            x = FeatureArrayNames.Select(n => arrays.GetValueOrDefault(n)).FirstOrDefault(a => a is not null)
                ?? throw new RecurFormatException(path, "array 'x'", $"expected the features as an array named 'x' (or 'X'), found {names}");
            var y = LabelArrayNames.Select(n => arrays.GetValueOrDefault(n)).FirstOrDefault(a => a is not null);
            if (y is not null) labels = LabelTexts(y, path, "array 'y'");
            lengths = arrays.GetValueOrDefault(LengthsArrayName);
            var unknown = arrays.Keys.Where(k => !FeatureArrayNames.Contains(k) && !LabelArrayNames.Contains(k) && k != LengthsArrayName).ToList();
            if (unknown.Count > 0)
                throw new RecurFormatException(path, $"array '{unknown[0]}'", $"expected only the arrays 'x', 'y' and 'lengths', found {names}");
        }
        else if (p.EndsWith(".npy", StringComparison.OrdinalIgnoreCase))
        {
            x = NumPy.ReadNpy(path, limits);
            if (labelsPath is not null) labels = ReadLabelsFile(labelsPath, limits);
        }
        else throw new RecurFormatException(path, "file name", "expected a NumPy .npy or .npz file, found another extension");

        var set = FromArray(x, lengths, path, limits);
        if (labels is not null && labels.Count != set.Count)
            throw new RecurFormatException(labelsSource, labelsPath is null ? "array 'y'" : "file",
                $"expected one label per sequence ({set.Count}, as the features {x.ShapeText} hold), found {labels.Count}");
        return labels is null ? set : new NumericSequences { Source = set.Source, Features = set.Features, Steps = set.Steps, Ids = set.Ids, Locations = set.Locations, Labels = labels };
    }

    /// <summary>Labels from an <c>.npy</c> (shape (N,) or (N, 1)) or a text file of one label per non-empty line.</summary>
    public static IReadOnlyList<string> ReadLabelsFile(string path, ReadLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        string p = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        if (p.EndsWith(".npy", StringComparison.OrdinalIgnoreCase)) return LabelTexts(NumPy.ReadNpy(path, limits), path, "array");
        var lines = DataFiles.Lines(DataFiles.ReadAllText(path, limits));
        var labels = new List<string>();
        for (int i = 0; i < lines.Count; i++)
        {
            string l = lines[i].Trim();
            if (l.Length == 0)
            {
                if (lines.Skip(i).Any(r => r.Trim().Length > 0)) throw new RecurFormatException(path, $"line {i + 1}", "expected a label, found an empty line");
                break;
            }
            labels.Add(l);
        }
        return labels;
    }

    private static string[] LabelTexts(NpyArray y, string source, string what)
    {
        if (!(y.Shape.Length == 1 || (y.Shape.Length == 2 && y.Shape[1] == 1)))
            throw new RecurFormatException(source, $"{what} shape", $"expected labels of shape (N,) or (N, 1), found {y.ShapeText}");
        var texts = new string[y.Count];
        for (int i = 0; i < texts.Length; i++)
        {
            if (y.Numbers is { } v && !double.IsFinite(v[i]))
                throw new RecurFormatException(source, $"{what} element {i}", $"expected a finite label, found {y.Text(i)}");
            texts[i] = y.Text(i).Trim();
            if (texts[i].Length == 0) throw new RecurFormatException(source, $"{what} element {i}", "expected a label, found an empty string");
        }
        return texts;
    }

    /// <summary>
    /// Sequences from a features array (N, T, F) or (N, T), with optional lengths (N,); see <see cref="ReadArrays"/>
    /// for the rules on lengths and NaN padding. <paramref name="source"/> names the file in errors.
    /// </summary>
    public static NumericSequences FromArray(NpyArray features, NpyArray? lengths, string source, ReadLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(features);
        limits ??= ReadLimits.Default;
        if (features.Numbers is not { } v)
            throw new RecurFormatException(source, "array 'x'", $"expected numbers (a float or integer dtype), found strings ({features.DType})");
        if (features.Shape.Length is not (2 or 3))
            throw new RecurFormatException(source, "array 'x' shape", $"expected (N, T, F) sequences of feature vectors, or (N, T) with one feature per step, found {features.ShapeText}");
        int n = features.Shape[0], t = features.Shape[1], f = features.Shape.Length == 3 ? features.Shape[2] : 1;
        if (n == 0 || t == 0 || f == 0) throw new RecurFormatException(source, "array 'x' shape", $"expected at least one sequence, step and feature, found {features.ShapeText}");
        if (t > limits.MaxSequenceLength)
            throw new RecurFormatException(source, "array 'x' shape", $"expected at most {limits.MaxSequenceLength} steps per sequence, found {t} in {features.ShapeText}");
        int[]? given = null;
        if (lengths is not null)
        {
            if (lengths.Numbers is not { } lv || lengths.Shape.Length != 1 || lengths.Shape[0] != n)
                throw new RecurFormatException(source, "array 'lengths'", $"expected {n} integer lengths (shape ({n},)), found {lengths.ShapeText} of {lengths.DType}");
            given = new int[n];
            for (int i = 0; i < n; i++)
            {
                if (!(lv[i] >= 1 && lv[i] <= t && lv[i] == Math.Floor(lv[i])))
                    throw new RecurFormatException(source, $"array 'lengths' element {i}", $"expected an integer length in [1, {t}] (the steps of 'x'), found {lengths.Text(i)}");
                given[i] = (int)lv[i];
            }
        }
        var steps = new float[n][];
        for (int i = 0; i < n; i++)
        {
            int len = given?[i] ?? LengthBeforeNaN(v, i, t, f, source);
            var row = new float[len * f];
            for (int k = 0; k < len * f; k++)
            {
                double value = v[((long)i * t * f) + k];
                if (!double.IsFinite(value))
                    throw new RecurFormatException(source, $"sequence {i} step {k / f} feature {k % f}",
                        given is null ? $"expected a finite number (a padding step has NaN in every feature), found {value}" : $"expected a finite number within the sequence's length {len}, found {value}");
                row[k] = (float)value;
            }
            steps[i] = row;
        }
        return new NumericSequences
        {
            Source = source, Features = f, Steps = steps,
            Ids = [.. Enumerable.Range(0, n).Select(i => i.ToString(CultureInfo.InvariantCulture))],
            Locations = [.. Enumerable.Range(0, n).Select(i => $"sequence {i}")],
        };
    }

    /// <summary>The steps before the first all-NaN step; every value after it must be NaN too.</summary>
    private static int LengthBeforeNaN(double[] v, int i, int t, int f, string source)
    {
        long start = (long)i * t * f;
        int len = t;
        for (int s = 0; s < t; s++)
        {
            bool allNaN = true;
            for (int k = 0; k < f && allNaN; k++) allNaN = double.IsNaN(v[start + s * f + k]);
            if (allNaN) { len = s; break; }
        }
        for (long k = start + (long)len * f; k < start + (long)t * f; k++)
            if (!double.IsNaN(v[k]))
            {
                int s = (int)((k - start) / f);
                throw new RecurFormatException(source, $"sequence {i} step {s} feature {(k - start) % f}",
                    $"expected NaN: the sequence ends with its all-NaN step {len} (NaN padding runs to the end), found {v[k]}");
            }
        if (len == 0) throw new RecurFormatException(source, $"sequence {i}", "expected at least one step that is not NaN padding, found none");
        return len;
    }

    /// <summary>Column names of the long CSV format.</summary>
    public const string IdColumn = "sequence_id", StepColumn = "step";

    /// <summary>
    /// Reads the long CSV format (TAB-separated for <c>.tsv</c>): a header naming the columns <c>sequence_id</c> and
    /// <c>step</c>, the label column (<paramref name="labelColumn"/>, by name or 0-based index; null: unlabelled), and
    /// every other column (or those of <paramref name="featureColumns"/>) as one feature; one row per step. See <see cref="FromLongTable"/>.
    /// </summary>
    public static NumericSequences ReadLongCsv(string path, string? labelColumn, char? delimiter = null, ReadLimits? limits = null, IReadOnlyList<string>? featureColumns = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        return FromLongTable(DelimitedTable.Read(path, delimiter ?? DelimitedTable.DelimiterFor(path), hasHeader: true, limits), labelColumn, limits, featureColumns);
    }

    /// <summary>
    /// Sequences from a long table with a header: the rows of a sequence share its <c>sequence_id</c> (they need not be
    /// adjacent; sequences keep the order of their first row), <c>step</c> holds integers that, sorted, run without gaps
    /// or repeats from the sequence's first step, and the label (when <paramref name="labelColumn"/> is given) is the
    /// same on every row of a sequence. The features are the columns of <paramref name="featureColumns"/> (names or
    /// 0-based indices, in that order), or by default every other column; each a finite number on every row. Errors name
    /// the line and the field.
    /// </summary>
    public static NumericSequences FromLongTable(DelimitedTable table, string? labelColumn, ReadLimits? limits = null, IReadOnlyList<string>? featureColumns = null)
    {
        ArgumentNullException.ThrowIfNull(table);
        limits ??= ReadLimits.Default;
        if (table.Header is null) throw new RecurFormatException(table.Source, "line 1", $"expected a header naming the columns {IdColumn}, {StepColumn}, the features and the label, found none");
        int id = table.Column(IdColumn, "sequence id column");
        int step = table.Column(StepColumn, "step column");
        int label = labelColumn is null ? -1 : table.Column(labelColumn, "label column");
        if (label == id || label == step)
            throw new RecurFormatException(table.Source, "label column", $"expected a label column other than {IdColumn} and {StepColumn}, found column {table.ColumnName(label)}");
        int[] features = featureColumns is { Count: > 0 } chosen
            ? [.. chosen.Select(c => table.Column(c, "feature columns"))]
            : [.. Enumerable.Range(0, table.Columns).Where(c => c != id && c != step && c != label)];
        foreach (int c in features)
            if (c == id || c == step || c == label)
                throw new RecurFormatException(table.Source, "feature columns", $"expected feature columns other than {IdColumn}, {StepColumn} and the label, found column {table.ColumnName(c)}");
        if (features.Length == 0) throw new RecurFormatException(table.Source, "line 1", $"expected at least one feature column besides {IdColumn}, {StepColumn}{(label >= 0 ? " and the label" : "")}, found none");

        var groups = new Dictionary<string, List<(long Step, TableRow Row)>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var row in table.Rows)
        {
            string key = table.Cell(row, id, "sequence id");
            string s = row.Cells[step];
            if (!long.TryParse(s, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long stepValue))
                throw new RecurFormatException(table.Source, $"line {row.Line} field '{StepColumn}'", $"expected an integer step, found '{s}'");
            if (!groups.TryGetValue(key, out var list)) { groups[key] = list = []; order.Add(key); }
            list.Add((stepValue, row));
        }
        int f = features.Length;
        var steps = new List<float[]>(order.Count);
        var labels = label >= 0 ? new List<string>(order.Count) : null;
        var locations = new List<string>(order.Count);
        foreach (string key in order)
        {
            var rows = groups[key];
            rows.Sort((a, b) => a.Step != b.Step ? a.Step.CompareTo(b.Step) : a.Row.Line.CompareTo(b.Row.Line));
            if (rows.Count > limits.MaxSequenceLength)
                throw new RecurFormatException(table.Source, $"line {rows[0].Row.Line}", $"expected at most {limits.MaxSequenceLength} steps per sequence, found {rows.Count} for sequence '{key}'");
            var values = new float[rows.Count * f];
            string? first = null;
            for (int k = 0; k < rows.Count; k++)
            {
                var (st, row) = rows[k];
                if (k > 0 && st != rows[k - 1].Step + 1)
                    throw new RecurFormatException(table.Source, $"line {row.Line} field '{StepColumn}'",
                        st == rows[k - 1].Step
                            ? $"expected each step of sequence '{key}' once, found step {st} again (also on line {rows[k - 1].Row.Line})"
                            : $"expected step {rows[k - 1].Step + 1} of sequence '{key}' after step {rows[k - 1].Step} (line {rows[k - 1].Row.Line}), found {st}: steps must have no gaps");
                for (int c = 0; c < f; c++) values[k * f + c] = table.Number(row, features[c]);
                if (label >= 0)
                {
                    string l = table.Cell(row, label, "label");
                    if (first is null) first = l;
                    else if (l != first)
                        throw new RecurFormatException(table.Source, $"line {row.Line} field {table.ColumnName(label)}",
                            $"expected the label of sequence '{key}' on every row ('{first}' on line {rows[0].Row.Line}), found '{l}'");
                }
            }
            steps.Add(values);
            labels?.Add(first!);
            locations.Add($"line {rows.Min(r => r.Row.Line)}");
        }
        return new NumericSequences { Source = table.Source, Features = f, Steps = steps, Ids = order, Locations = locations, Labels = labels };
    }
}
