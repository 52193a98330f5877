using System.Text;
using System.Text.Json;
using Recur.Data;
using Recur.Tensors;

namespace Recur.Tests.Data;

/// <summary>
/// The by-the-book word-LM reading (<see cref="PtbTokenizer"/>): exactly the file's space-separated tokens, an
/// &lt;eos&gt; per line, &lt;unk&gt; as the unknown token, every training type in the vocabulary.
/// </summary>
public class PtbTokenizerTests
{
    /// <summary>
    /// A PTB-like file written here: lines of words drawn from a lexicon with what the free-text word tokenizer splits
    /// or changes (&lt;unk&gt;, N, case, '.', '\'', '-', '$'), a leading space per line as in Mikolov's PTB files, and an
    /// empty line (WikiText has them). Returns the text and, independently, its lines' words.
    /// </summary>
    private static (string Text, List<string[]> Lines) GeneratedFile(int lines, ulong seed)
    {
        string[] lexicon = ["the", "<unk>", "N", "company", "said", "U.S.", "it's", "state-of-the-art", "$", "Mr.", "aer", "banknote", "N.V.", "'s", "1.5", "mr"];
        var rng = new Rng(seed);
        var sb = new StringBuilder();
        var words = new List<string[]>();
        for (int i = 0; i < lines; i++)
        {
            var line = i == 7 ? [] : Enumerable.Range(0, 1 + rng.NextInt(12)).Select(_ => lexicon[rng.NextInt(lexicon.Length)]).ToArray();
            words.Add(line);
            sb.Append(' ').Append(string.Join(' ', line)).Append(" \n");
        }
        return (sb.ToString(), words);
    }

    [Fact]
    public void AFileGivesExactlyItsWordsAndOneEosPerLine()
    {
        var (text, lines) = GeneratedFile(200, 5);
        int wordCount = lines.Sum(l => l.Length);
        var tok = PtbTokenizer.Build([text]);
        var ids = tok.Encode(text);

        Assert.Equal(wordCount + lines.Count, ids.Length);
        var expected = lines.SelectMany(l => l.Append(Vocabulary.Eos)).ToList();
        Assert.Equal(expected, ids.Select(tok.Vocabulary.Token).ToList());
        Assert.Equal(expected.Count(t => t == Vocabulary.Unk), ids.Count(id => id == tok.Vocabulary.UnkId));
    }

    [Fact]
    public void TheVocabularyIsExactlyTheTrainingTypes()
    {
        var (text, lines) = GeneratedFile(200, 6);
        var tok = PtbTokenizer.Build([text]);
        var types = lines.SelectMany(l => l).Append(Vocabulary.Eos).ToHashSet(StringComparer.Ordinal);
        // Every type once, case kept ("mr" and "Mr." are two types), plus the padding id, which never occurs in text.
        Assert.Equal(types.Union([Vocabulary.Pad]).Order(StringComparer.Ordinal), tok.Vocabulary.Tokens.Order(StringComparer.Ordinal));
        Assert.Equal(Vocabulary.Unk, tok.Vocabulary.Token(tok.Vocabulary.UnkId));
    }

    [Fact]
    public void NewlinesAreEosAndTextAfterTheLastNewlineHasNone()
    {
        var tok = PtbTokenizer.Build(["a b\nc\n"]);
        string T(string text) => string.Join('|', tok.Encode(text).Select(tok.Vocabulary.Token));
        Assert.Equal("a|b|<eos>|c|<eos>", T("a b\nc\n"));
        Assert.Equal("a|b|<eos>|c|<eos>", T("a b\r\nc\r\n"));
        Assert.Equal("a|b|<eos>|<eos>|c", T("a\tb\n\nc"));          // an empty line is an <eos>; a prompt continues its sentence
        Assert.Equal("a|<unk>|b", T("a zz b"));
        Assert.Equal("<unk>", T("<unk>"));
    }

    [Fact]
    public void DecodeWritesEosAsALineBreak()
    {
        var tok = PtbTokenizer.Build(["the company said\nit 's N\n"]);
        Assert.Equal("the company said\nit 's N\n", tok.Decode(tok.Encode("the company said\nit 's N\n")));
    }

    [Fact]
    public void ItRoundTripsThroughTheModelFileJson()
    {
        var tok = PtbTokenizer.Build(["x y <unk>\nY z\n"]);
        var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms)) tok.Write(w);
        using var doc = JsonDocument.Parse(ms.ToArray());
        var back = Assert.IsType<PtbTokenizer>(Tokenizers.Read(doc.RootElement));
        Assert.Equal(tok.Vocabulary.Tokens, back.Vocabulary.Tokens);
        Assert.Equal(tok.Encode("Y x q\n"), back.Encode("Y x q\n"));
    }

    [Fact]
    public void MinCountSendsRareTypesToUnk()
    {
        var tok = PtbTokenizer.Build(["a a b\na\n"], minCount: 2);
        Assert.Equal([Vocabulary.Pad, Vocabulary.Unk, Vocabulary.Eos, "a"], tok.Vocabulary.Tokens);
        Assert.Equal(tok.Vocabulary.UnkId, tok.Encode("b")[0]);
    }

    [Fact]
    public void AContinuationOfWordsIsJoinedWithASpace()
    {
        var ptb = PtbTokenizer.Build(["the company said it\n"]);
        int Id(string t) => ptb.Vocabulary.Id(t);
        Assert.Equal("the company said it\nthe", Tokenizers.Continue(ptb, "the company said", [Id("it"), Id(Vocabulary.Eos), Id("the")]));
        Assert.Equal("the company\nsaid", Tokenizers.Continue(ptb, "the company", [Id(Vocabulary.Eos), Id("said")]));

        var word = WordTokenizer.Build(["the company said it"]);
        Assert.Equal("the company said it", Tokenizers.Continue(word, "the company said", [word.Vocabulary.Id("it")]));
        var chars = CharTokenizer.Build("abc ");
        Assert.Equal("abc", Tokenizers.Continue(chars, "ab", [chars.Vocabulary.Id("c")]));
    }
}
