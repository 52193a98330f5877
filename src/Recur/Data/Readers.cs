using System.Globalization;

namespace Recur.Data;

/// <summary>A labelled text example.</summary>
public sealed record LabeledText(string Text, string Label, int Line);

/// <summary>A sentence of tokens with one tag per token (CoNLL).</summary>
public sealed record TaggedSentence(string[] Tokens, string[] Tags, int Line);

/// <summary>Readers for the data formats of the models. Errors are <see cref="RecurFormatException"/> naming file and line.</summary>
public static class Readers
{
    /// <summary>
    /// Text + label per line, separated by TAB (the label after the <b>last</b> TAB, both trimmed), as the UCI
    /// sentiment files. Empty lines are skipped; a line without a TAB or with an empty text or label is an error.
    /// </summary>
    public static List<LabeledText> ReadLabeledTsv(string path, ReadLimits? limits = null) =>
        ParseLabeledTsv(DataFiles.ReadAllText(path, limits), path);

    /// <summary>Parses the text of a labelled TSV file (see <see cref="ReadLabeledTsv"/>), <paramref name="content"/>; <paramref name="path"/> names it in errors.</summary>
    public static List<LabeledText> ParseLabeledTsv(string content, string path)
    {
        var lines = DataFiles.Lines(content);
        var result = new List<LabeledText>();
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i];
            if (line.Trim().Length == 0) continue;
            int tab = line.LastIndexOf('\t');
            if (tab < 0)
                throw new RecurFormatException(path, $"line {i + 1}", $"expected 'text<TAB>label', found no TAB in \"{Clip(line)}\"");
            string text = line[..tab].Trim(), label = line[(tab + 1)..].Trim();
            if (text.Length == 0) throw new RecurFormatException(path, $"line {i + 1} field 'text'", "expected a non-empty text, found an empty one");
            if (label.Length == 0) throw new RecurFormatException(path, $"line {i + 1} field 'label'", "expected a label after the TAB, found none");
            result.Add(new LabeledText(text, label, i + 1));
        }
        if (result.Count == 0) throw new RecurFormatException(path, "file", "expected at least one 'text<TAB>label' line, found none");
        return result;
    }

    /// <summary>
    /// CoNLL-style tagging data: one token per line, the token in the first column and its tag in the last
    /// (whitespace-separated), sentences separated by blank lines, <c>-DOCSTART-</c> lines skipped.
    /// </summary>
    public static List<TaggedSentence> ReadConll(string path, ReadLimits? limits = null) =>
        ParseConll(DataFiles.ReadAllText(path, limits), path, limits);

    /// <summary>Parses the text of a CoNLL file (see <see cref="ReadConll"/>); <paramref name="path"/> names it in errors.</summary>
    public static List<TaggedSentence> ParseConll(string text, string path, ReadLimits? limits = null)
    {
        limits ??= ReadLimits.Default;
        var lines = DataFiles.Lines(text);
        var result = new List<TaggedSentence>();
        var tokens = new List<string>();
        var tags = new List<string>();
        int start = 0;
        void Flush()
        {
            if (tokens.Count > 0) result.Add(new TaggedSentence([.. tokens], [.. tags], start));
            tokens.Clear();
            tags.Clear();
        }
        for (int i = 0; i < lines.Count; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0) { Flush(); continue; }
            if (line.StartsWith("-DOCSTART-", StringComparison.Ordinal)) continue;
            var parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length < 2)
                throw new RecurFormatException(path, $"line {i + 1}", $"expected 'token tag' (at least 2 columns), found {parts.Length} column in \"{Clip(line)}\"");
            if (tokens.Count == 0) start = i + 1;
            tokens.Add(parts[0]);
            tags.Add(parts[^1]);
            if (tokens.Count > limits.MaxSequenceLength)
                throw new RecurFormatException(path, $"line {i + 1}", $"expected sentences of at most {limits.MaxSequenceLength} tokens (ReadLimits.MaxSequenceLength), found a longer one starting at line {start}");
        }
        Flush();
        if (result.Count == 0) throw new RecurFormatException(path, "file", "expected at least one tagged sentence, found none");
        return result;
    }

    /// <summary>
    /// Numeric columns of a CSV time series with a header row. Columns are chosen by name (quotes around names and
    /// values are removed). An empty cell is a missing value (NaN); anything else that is not a finite number is an
    /// error naming the line and column.
    /// </summary>
    public static float[][] ReadTimeSeriesCsv(string path, IReadOnlyList<string> columns, ReadLimits? limits = null) =>
        ParseTimeSeriesCsv(DataFiles.ReadAllText(path, limits), path, columns);

    /// <summary>Parses the text of a time-series CSV file (see <see cref="ReadTimeSeriesCsv"/>); <paramref name="path"/> names it in errors.</summary>
    public static float[][] ParseTimeSeriesCsv(string text, string path, IReadOnlyList<string> columns)
    {
        ArgumentNullException.ThrowIfNull(columns);
        var lines = DataFiles.Lines(text);
        while (lines.Count > 0 && lines[^1].Trim().Length == 0) lines.RemoveAt(lines.Count - 1);
        if (lines.Count == 0) throw new RecurFormatException(path, "line 1", "expected a header row, found an empty file");
        var header = SplitCsv(lines[0]);
        var indices = new int[columns.Count];
        for (int c = 0; c < columns.Count; c++)
        {
            indices[c] = header.FindIndex(h => string.Equals(h, columns[c], StringComparison.OrdinalIgnoreCase));
            if (indices[c] < 0)
                throw new RecurFormatException(path, "line 1 (header)", $"expected a column named '{columns[c]}', found [{string.Join(", ", header)}]");
        }
        if (lines.Count == 1) throw new RecurFormatException(path, "line 2", "expected data rows after the header, found none");
        var result = new float[columns.Count][];
        for (int c = 0; c < columns.Count; c++) result[c] = new float[lines.Count - 1];
        for (int i = 1; i < lines.Count; i++)
        {
            var cells = SplitCsv(lines[i]);
            if (cells.Count != header.Count)
                throw new RecurFormatException(path, $"line {i + 1}", $"expected {header.Count} columns as in the header, found {cells.Count}");
            for (int c = 0; c < columns.Count; c++)
            {
                string cell = cells[indices[c]];
                if (cell.Length == 0) { result[c][i - 1] = float.NaN; continue; }
                if (!float.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) || !float.IsFinite(v))
                    throw new RecurFormatException(path, $"line {i + 1} column '{columns[c]}'", $"expected a finite number, found \"{Clip(cell)}\"");
                result[c][i - 1] = v;
            }
        }
        return result;
    }

    /// <summary>Splits a CSV line on commas, honouring double quotes ("" inside quotes is a quote).</summary>
    public static List<string> SplitCsv(string line)
    {
        var cells = new List<string>();
        var sb = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else sb.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { cells.Add(sb.ToString().Trim()); sb.Clear(); }
            else sb.Append(ch);
        }
        cells.Add(sb.ToString().Trim());
        return cells;
    }

    private static string Clip(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
