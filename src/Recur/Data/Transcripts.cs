using System.Globalization;

namespace Recur.Data;

/// <summary>One audio file and what is said in it.</summary>
/// <param name="File">The WAV file (.wav or .wav.gz).</param>
/// <param name="Text">The transcript, trimmed, never empty.</param>
/// <param name="Source">Where the pair was listed, for errors: the list file and line (or the table and row).</param>
public sealed record TranscribedFile(string File, string Text, string Source);

/// <summary>
/// Speech-recognition input: WAV files with their transcripts, either a list file with one <c>path,text</c> or
/// <c>path&lt;TAB&gt;text</c> line per utterance (paths relative to the list's folder; a line with a TAB splits at its
/// first TAB, else at its first comma, so a TSV transcript may hold commas), or a folder of WAV files with a table of
/// file name → transcript in the same two-column format. Blank lines are skipped. An empty transcript, a missing file,
/// or a folder file the table does not name is an error naming the file and line.
/// </summary>
public static class Transcripts
{
    /// <summary>
    /// The utterances of <paramref name="source"/>: a list file, or a folder with <paramref name="table"/> (a list
    /// file whose first column is a file name in the folder). In list order, or in folder order (ordinal by name).
    /// </summary>
    public static List<TranscribedFile> Read(string source, string? table = null, ReadLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (File.Exists(source))
        {
            if (table is not null) throw new ArgumentException($"{source} is a list file with its own transcripts; a separate transcript table is read only with a folder of WAV files", nameof(table));
            string baseDir = Path.GetDirectoryName(Path.GetFullPath(source)) ?? ".";
            var result = new List<TranscribedFile>();
            foreach (var (path, text, line) in Pairs(source, limits))
            {
                string file = Path.Combine(baseDir, path);
                if (!File.Exists(file)) throw new RecurFormatException(source, $"line {line}", $"expected an existing WAV file, found '{path}' (paths are relative to the list's folder)");
                result.Add(new TranscribedFile(file, text, $"{source}: line {line}"));
            }
            if (result.Count == 0) throw new RecurFormatException(source, "file", "expected one 'path,text' or 'path<TAB>text' line per utterance, found none");
            return result;
        }
        if (!Directory.Exists(source)) throw new FileNotFoundException($"{source}: expected a transcript list file or a folder of WAV files, found neither");
        if (table is null) throw new ArgumentException($"{source} is a folder: its transcripts need a table of 'file name,text' lines", nameof(table));
        var texts = new Dictionary<string, (string Text, int Line)>(StringComparer.Ordinal);
        foreach (var (name, text, line) in Pairs(table, limits))
            if (!texts.TryAdd(Path.GetFileName(name), (text, line)))
                throw new RecurFormatException(table, $"line {line}", $"expected each file once, found '{name}' again (first on line {texts[Path.GetFileName(name)].Line})");
        var files = AudioClips.List(source).Select(f => f.File).ToList();
        var found = new List<TranscribedFile>(files.Count);
        foreach (var f in files)
        {
            string name = Path.GetFileName(f);
            if (!texts.TryGetValue(name, out var t)) throw new RecurFormatException(table, "rows", $"expected a transcript for '{name}' (in {source}), found none");
            found.Add(new TranscribedFile(f, t.Text, $"{table}: line {t.Line}"));
        }
        return found;
    }

    /// <summary>The (path, text, 1-based line) pairs of a two-column list; blank lines skipped.</summary>
    private static IEnumerable<(string Path, string Text, int Line)> Pairs(string listFile, ReadLimits? limits)
    {
        var lines = DataFiles.Lines(DataFiles.ReadAllText(listFile, limits));
        for (int i = 0; i < lines.Count; i++)
        {
            string l = lines[i];
            if (l.Trim().Length == 0) continue;
            int cut = l.IndexOf('\t', StringComparison.Ordinal);
            if (cut < 0) cut = l.IndexOf(',', StringComparison.Ordinal);
            if (cut < 0) throw new RecurFormatException(listFile, $"line {i + 1}", $"expected 'path,text' or 'path<TAB>text', found no comma or TAB in '{Clip(l)}'");
            string path = l[..cut].Trim(), text = l[(cut + 1)..].Trim();
            if (path.Length == 0) throw new RecurFormatException(listFile, $"line {i + 1}", "expected a WAV path before the separator, found an empty one");
            if (text.Length == 0) throw new RecurFormatException(listFile, $"line {i + 1}", $"expected a transcript after '{Clip(path)}', found an empty one");
            yield return (path, text, i + 1);
        }
    }

    /// <summary>
    /// Throws when an utterance of <paramref name="steps"/> input steps (after subsampling) is too short for a CTC
    /// alignment of its <paramref name="labels"/>-character transcript, which needs <paramref name="need"/> steps (one
    /// per label, and a blank between equal adjacent labels: Nn.CtcLoss.MinimumInputLength); the error names the file
    /// and gives the steps needed and found.
    /// </summary>
    public static void CheckAlignable(TranscribedFile utterance, int labels, int need, int steps)
    {
        ArgumentNullException.ThrowIfNull(utterance);
        if (steps < need)
        {
            int repeats = need - labels;
            throw new RecurFormatException(utterance.File, "length",
                $"expected at least {need.ToString(CultureInfo.InvariantCulture)} input steps after subsampling for the {labels}-character transcript '{Clip(utterance.Text)}'"
                + (repeats > 0 ? $" ({repeats} repeated adjacent characters each need a blank between them)" : "")
                + $", found {steps.ToString(CultureInfo.InvariantCulture)} (audio too short for its transcript; listed at {utterance.Source})");
        }
    }

    private static string Clip(string s) => s.Length <= 60 ? s : s[..57] + "...";
}
