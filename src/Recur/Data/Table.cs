using System.Globalization;

namespace Recur.Data;

/// <summary>A row of a delimited file with its 1-based line number.</summary>
public sealed record TableRow(string[] Cells, int Line);

/// <summary>
/// A TSV or CSV file read whole: an optional header row and rows that all have the header's (or the first row's)
/// number of columns. CSV cells honour double quotes (no line breaks inside quotes); TSV cells split on every TAB.
/// Columns are chosen by name (with a header, case-insensitive) or by 0-based index (negative counts from the end).
/// </summary>
public sealed class DelimitedTable
{
    private DelimitedTable(string source, string[]? header, List<TableRow> rows, int columns)
    {
        Source = source;
        Header = header;
        Rows = rows;
        Columns = columns;
    }

    /// <summary>The file name used in error messages.</summary>
    public string Source { get; }

    /// <summary>Column names, when the file has a header row.</summary>
    public IReadOnlyList<string>? Header { get; }

    /// <summary>The data rows (empty lines skipped).</summary>
    public IReadOnlyList<TableRow> Rows { get; }

    /// <summary>Columns per row.</summary>
    public int Columns { get; }

    /// <summary>The delimiter a file name implies: TAB for .tsv/.tab/.txt (also under .gz), comma for .csv.</summary>
    public static char DelimiterFor(string path)
    {
        string name = path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? path[..^3] : path;
        return Path.GetExtension(name).ToLowerInvariant() == ".csv" ? ',' : '\t';
    }

    /// <summary>
    /// Reads <paramref name="path"/> (gzip and UTF-8 handled by <see cref="DataFiles"/>). <paramref name="hasHeader"/>:
    /// whether the first non-empty row is a header.
    /// </summary>
    public static DelimitedTable Read(string path, char delimiter, bool hasHeader, ReadLimits? limits = null) =>
        Parse(DataFiles.ReadAllText(path, limits), path, delimiter, hasHeader);

    /// <summary>Parses text already read; <paramref name="source"/> names it in errors.</summary>
    public static DelimitedTable Parse(string text, string source, char delimiter, bool hasHeader)
    {
        var lines = DataFiles.Lines(text);
        string[]? header = null;
        var rows = new List<TableRow>();
        int columns = -1;
        for (int i = 0; i < lines.Count; i++)
        {
            if (lines[i].Trim().Length == 0) continue;
            var cells = delimiter == ',' ? Readers.SplitCsv(lines[i]).ToArray() : lines[i].Split('\t').Select(c => c.Trim()).ToArray();
            if (columns < 0) columns = cells.Length;
            else if (cells.Length != columns)
                throw new RecurFormatException(source, $"line {i + 1}",
                    $"expected {columns} columns like the {(header is not null ? "header" : "first row")}, found {cells.Length} ({(cells.Length < columns ? "missing" : "extra")} columns; the delimiter is {(delimiter == ',' ? "a comma" : "a TAB")})");
            if (hasHeader && header is null) { header = cells; continue; }
            rows.Add(new TableRow(cells, i + 1));
        }
        if (columns < 0) throw new RecurFormatException(source, "file", "expected rows of data, found an empty file");
        if (rows.Count == 0) throw new RecurFormatException(source, "line 2", "expected data rows after the header, found only the header");
        return new DelimitedTable(source, header, rows, columns);
    }

    /// <summary>The same table with its first row taken as the header (for callers that decide after reading it).</summary>
    public DelimitedTable WithFirstRowAsHeader()
    {
        if (Header is not null) throw new InvalidOperationException("the table already has a header");
        if (Rows.Count < 2) throw new RecurFormatException(Source, "line 2", "expected data rows after the header, found only the header");
        return new DelimitedTable(Source, Rows[0].Cells, Rows.Skip(1).ToList(), Columns);
    }

    /// <summary>
    /// The index of a column given by name (needs a header) or by 0-based index (negative from the end);
    /// <paramref name="role"/> (e.g. "text column") names it in the error.
    /// </summary>
    public int Column(string spec, string role)
    {
        if (int.TryParse(spec, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int index))
        {
            int resolved = index < 0 ? Columns + index : index;
            if ((uint)resolved >= (uint)Columns)
                throw new RecurFormatException(Source, role, $"expected a column index in [{-Columns}, {Columns - 1}], found {index} ({Columns} columns)");
            return resolved;
        }
        if (Header is null)
            throw new RecurFormatException(Source, role, $"expected a header row to find the column named '{spec}', found none (the table was read without a header row; read it with one, or name the column by its 0-based index)");
        for (int i = 0; i < Header.Count; i++)
            if (string.Equals(Header[i], spec, StringComparison.OrdinalIgnoreCase)) return i;
        throw new RecurFormatException(Source, $"{role} (header)", $"expected a column named '{spec}', found [{string.Join(", ", Header)}]");
    }

    /// <summary>The non-empty text of a cell, or an error naming the line and column.</summary>
    public string Cell(TableRow row, int column, string what)
    {
        string v = row.Cells[column];
        if (v.Length == 0) throw new RecurFormatException(Source, $"line {row.Line} column {ColumnName(column)}", $"expected a non-empty {what}, found an empty cell");
        return v;
    }

    /// <summary>A finite number in a cell, or an error naming the line and column.</summary>
    public float Number(TableRow row, int column)
    {
        string v = row.Cells[column];
        if (!float.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out float x) || !float.IsFinite(x))
            throw new RecurFormatException(Source, $"line {row.Line} column {ColumnName(column)}", $"expected a finite number, found \"{(v.Length <= 40 ? v : v[..37] + "...")}\"");
        return x;
    }

    /// <summary>A column's name for messages: its header name or its index.</summary>
    public string ColumnName(int column) => Header is not null ? $"'{Header[column]}'" : column.ToString(CultureInfo.InvariantCulture);
}
