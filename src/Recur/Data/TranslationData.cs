using System.Text;

namespace Recur.Data;

/// <summary>A sentence pair for translation.</summary>
public sealed record SentencePair(string Source, string Target, int Line);

/// <summary>
/// Sentence pairs in <c>source&lt;TAB&gt;target</c> files (e.g. the Tatoeba eng-fra list), and the normalisation and
/// filter of PyTorch's "NLP from scratch: translation with a sequence to sequence network and attention" tutorial.
/// </summary>
public static class TranslationData
{
    /// <summary>The tutorial's English prefixes (after normalisation, so "i'm" is "i m").</summary>
    public static readonly string[] EnglishPrefixes = ["i am ", "i m ", "he is", "he s ", "she is", "she s ", "you are", "you re ", "we are", "we re ", "they are", "they re "];

    /// <summary>Reads <c>left&lt;TAB&gt;right</c> lines (gzip transparently). Each line needs exactly one TAB-separated pair of non-empty sides.</summary>
    public static List<SentencePair> ReadTsv(string path, ReadLimits? limits = null) =>
        ParseTsv(DataFiles.ReadAllText(path, limits), path);

    /// <summary>Parses the text of a sentence-pair file (see <see cref="ReadTsv"/>); <paramref name="path"/> names it in errors.</summary>
    public static List<SentencePair> ParseTsv(string text, string path)
    {
        var lines = DataFiles.Lines(text);
        var pairs = new List<SentencePair>(lines.Count);
        for (int i = 0; i < lines.Count; i++)
        {
            if (lines[i].Length == 0) continue;
            var parts = lines[i].Split('\t');
            if (parts.Length < 2)
                throw new RecurFormatException(path, $"line {i + 1}", $"expected 'source<TAB>target', found {parts.Length} column");
            if (parts[0].Trim().Length == 0 || parts[1].Trim().Length == 0)
                throw new RecurFormatException(path, $"line {i + 1}", "expected non-empty source and target, found an empty side");
            pairs.Add(new SentencePair(parts[0], parts[1], i + 1));
        }
        return pairs;
    }

    /// <summary>
    /// The tutorial's normaliseString: lower-case, strip accents (canonical decomposition, marks dropped), put a space
    /// before . ! ?, replace every run of characters other than a-z . ! ? by one space, trim.
    /// </summary>
    public static string Normalize(string s)
    {
        var sb = new StringBuilder(s.Length + 8);
        bool space = false;
        foreach (char raw in s.ToLowerInvariant().Trim())
        {
            char c = FoldAccent(raw);
            if (c is '.' or '!' or '?')
            {
                sb.Append(' ').Append(c);
                space = false;
            }
            else if (c is >= 'a' and <= 'z')
            {
                if (space && sb.Length > 0) sb.Append(' ');
                sb.Append(c);
                space = false;
            }
            else space = true;
        }
        // Collapse the spaces the punctuation rule may have doubled, as the tutorial's regexes do.
        return string.Join(' ', sb.ToString().Split(' ', StringSplitOptions.RemoveEmptyEntries));
    }

    /// <summary>
    /// The letter without its diacritic, for the precomposed Latin letters that have a canonical decomposition
    /// (NFD followed by dropping marks); ligatures like œ and æ have none and are returned unchanged.
    /// </summary>
    public static char FoldAccent(char c) => c switch
    {
        'à' or 'á' or 'â' or 'ã' or 'ä' or 'å' or 'ā' or 'ă' or 'ą' => 'a',
        'ç' or 'ć' or 'ĉ' or 'ċ' or 'č' => 'c',
        'ď' => 'd',
        'è' or 'é' or 'ê' or 'ë' or 'ē' or 'ĕ' or 'ė' or 'ę' or 'ě' => 'e',
        'ĝ' or 'ğ' or 'ġ' or 'ģ' => 'g',
        'ĥ' => 'h',
        'ì' or 'í' or 'î' or 'ï' or 'ĩ' or 'ī' or 'ĭ' or 'į' => 'i',
        'ĵ' => 'j',
        'ķ' => 'k',
        'ĺ' or 'ļ' or 'ľ' => 'l',
        'ñ' or 'ń' or 'ņ' or 'ň' => 'n',
        'ò' or 'ó' or 'ô' or 'õ' or 'ö' or 'ō' or 'ŏ' or 'ő' => 'o',
        'ŕ' or 'ŗ' or 'ř' => 'r',
        'ś' or 'ŝ' or 'ş' or 'š' => 's',
        'ţ' or 'ť' => 't',
        'ù' or 'ú' or 'û' or 'ü' or 'ũ' or 'ū' or 'ŭ' or 'ů' or 'ű' or 'ų' => 'u',
        'ŵ' => 'w',
        'ý' or 'ÿ' or 'ŷ' => 'y',
        'ź' or 'ż' or 'ž' => 'z',
        _ => c,
    };

    /// <summary>
    /// The tutorial's filter on normalised pairs: both sides shorter than <paramref name="maxLength"/> tokens
    /// (punctuation counts) and the English side starting with one of <see cref="EnglishPrefixes"/>.
    /// </summary>
    public static bool Keep(string english, string other, int maxLength = 10) =>
        english.Split(' ').Length < maxLength && other.Split(' ').Length < maxLength &&
        EnglishPrefixes.Any(p => english.StartsWith(p, StringComparison.Ordinal));
}
