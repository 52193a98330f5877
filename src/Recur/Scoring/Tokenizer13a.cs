using System.Text.RegularExpressions;

namespace Recur.Scoring;

/// <summary>
/// The tokenisation of mteval-v13a.pl (NIST's BLEU script, used by WMT), as sacreBLEU's <c>13a</c> tokenizer
/// (sacrebleu/tokenizers/tokenizer_13a.py and tokenizer_re.py) ports it: drop <c>&lt;skipped&gt;</c>, join lines,
/// unescape four HTML entities, then split off punctuation and symbols, periods and commas unless between digits,
/// and a dash after a digit; runs of whitespace become one space.
/// </summary>
public static partial class Tokenizer13a
{
    // The four substitutions of TokenizerRegexp, in order, with Python's \1 \2 written as $1 $2.
    [GeneratedRegex(@"([\{-~\[-` -&\(-\+:-@/])", RegexOptions.CultureInvariant)]
    private static partial Regex Symbols();
    [GeneratedRegex(@"([^0-9])([\.,])", RegexOptions.CultureInvariant)]
    private static partial Regex PeriodCommaAfterNonDigit();
    [GeneratedRegex(@"([\.,])([^0-9])", RegexOptions.CultureInvariant)]
    private static partial Regex PeriodCommaBeforeNonDigit();
    [GeneratedRegex(@"([0-9])(-)", RegexOptions.CultureInvariant)]
    private static partial Regex DashAfterDigit();

    /// <summary>The tokenised line, tokens separated by single spaces, no leading or trailing space.</summary>
    public static string Tokenize(string line)
    {
        ArgumentNullException.ThrowIfNull(line);
        line = line.Replace("<skipped>", "", StringComparison.Ordinal).Replace("-\n", "", StringComparison.Ordinal).Replace('\n', ' ');
        if (line.Contains('&', StringComparison.Ordinal))
            line = line.Replace("&quot;", "\"", StringComparison.Ordinal).Replace("&amp;", "&", StringComparison.Ordinal)
                       .Replace("&lt;", "<", StringComparison.Ordinal).Replace("&gt;", ">", StringComparison.Ordinal);
        line = " " + line + " ";
        line = Symbols().Replace(line, " $1 ");
        line = PeriodCommaAfterNonDigit().Replace(line, "$1 $2 ");
        line = PeriodCommaBeforeNonDigit().Replace(line, " $1 $2");
        line = DashAfterDigit().Replace(line, "$1 $2 ");
        return string.Join(' ', SplitWhitespace(line));
    }

    /// <summary>Python's <c>str.split()</c>: the pieces between runs of Unicode whitespace (which includes U+001C..U+001F).</summary>
    internal static List<string> SplitWhitespace(string text)
    {
        var parts = new List<string>();
        int start = -1;
        for (int i = 0; i <= text.Length; i++)
        {
            bool space = i == text.Length || IsPythonSpace(text[i]);
            if (space && start >= 0) { parts.Add(text[start..i]); start = -1; }
            else if (!space && start < 0) start = i;
        }
        return parts;
    }

    /// <summary>Python's <c>str.rstrip()</c>.</summary>
    internal static string RStrip(string text)
    {
        int end = text.Length;
        while (end > 0 && IsPythonSpace(text[end - 1])) end--;
        return text[..end];
    }

    private static bool IsPythonSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001c' and <= '\u001f';
}
