using Recur.Scoring;

namespace Recur.Tests.Scoring;

/// <summary>cer, wer and utterance_accuracy on cases computed by hand.</summary>
public class ErrorRatesTests
{
    [Theory]
    [InlineData("kitten", "sitting", 3)]   // k->s, e->i, +g
    [InlineData("", "abc", 3)]
    [InlineData("abc", "", 3)]
    [InlineData("abc", "abc", 0)]
    [InlineData("abcdef", "azced", 3)]     // b->z, -d, f->d
    [InlineData("flaw", "lawn", 2)]
    public void Edit_distance_is_the_Levenshtein_distance(string reference, string hypothesis, int expected)
    {
        Assert.Equal(expected, ErrorRates.EditDistance<char>(reference, hypothesis));
        Assert.Equal(expected, ErrorRates.EditDistance<char>(hypothesis, reference));
    }

    [Fact]
    public void Cer_is_total_edits_over_total_reference_characters_not_a_mean_of_rates()
    {
        // "abc" -> "abd": 1 substitution; "de" -> "d": 1 deletion; 2 edits over 5 reference characters.
        // (The mean of the per-utterance rates would be (1/3 + 1/2) / 2 = 0.4167.)
        Assert.Equal(0.4, ErrorRates.CharacterErrorRate(["abd", "d"], ["abc", "de"]), 12);
    }

    [Fact]
    public void Cer_counts_spaces_and_code_points()
    {
        // "1 2 3" vs "1 23": one deleted space over 5 characters
        Assert.Equal(0.2, ErrorRates.CharacterErrorRate(["1 23"], ["1 2 3"]), 12);
        // a character outside the BMP is one character, not two UTF-16 units
        Assert.Equal(0.5, ErrorRates.CharacterErrorRate(["a\U0001F600"], ["ab"]), 12);
        Assert.Equal([97, 0x1F600], ErrorRates.Characters("a\U0001F600"));
    }

    [Fact]
    public void Wer_is_total_word_edits_over_total_reference_words()
    {
        // one insertion ("down") and one deletion ("the") over 6 reference words
        Assert.Equal(2.0 / 6, ErrorRates.WordErrorRate(["the cat sat down", "on mat"], ["the cat sat", "on the mat"]), 12);
        // a substitution; white space runs do not make words
        Assert.Equal(1.0 / 3, ErrorRates.WordErrorRate(["a  x\tc "], ["a b c"]), 12);
        // an empty hypothesis deletes every word; insertions can push the rate above 1
        Assert.Equal(1.0, ErrorRates.WordErrorRate([""], ["one two"]), 12);
        Assert.Equal(3.0, ErrorRates.WordErrorRate(["x y z"], ["w"]), 12);   // w->x, +y, +z
    }

    [Fact]
    public void Utterance_accuracy_is_the_fraction_of_exact_matches()
    {
        Assert.Equal(1.0 / 3, ErrorRates.UtteranceAccuracy(["3 1 4", "1 5", "9 2 6"], ["3 1 4", "1 5 9", "9 2 7"]), 12);
        Assert.Equal(0.0, ErrorRates.UtteranceAccuracy(["Abc"], ["abc"]));   // no case folding
    }

    [Fact]
    public void Undefined_rates_and_mismatched_lists_are_refused()
    {
        Assert.Contains("no characters", Assert.Throws<ArgumentException>(() => ErrorRates.CharacterErrorRate(["x"], [""])).Message);
        Assert.Contains("no words", Assert.Throws<ArgumentException>(() => ErrorRates.WordErrorRate(["x"], ["  "])).Message);
        Assert.Contains("got 2 hypotheses and 1 references", Assert.Throws<ArgumentException>(() => ErrorRates.WordErrorRate(["a", "b"], ["a"])).Message);
        Assert.Contains("no utterances", Assert.Throws<ArgumentException>(() => ErrorRates.UtteranceAccuracy([], [])).Message);
    }
}
