using Recur.Data;
using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary><c>recur data digits</c> end to end on a small FSDD-like folder.</summary>
public class DataDigitsTests
{
    private static string FakeFsdd(TempDir dir)
    {
        string folder = Path.Combine(dir.Path, "recordings");
        Directory.CreateDirectory(folder);
        foreach (var speaker in new[] { "ann", "bob", "cy" })
            for (int d = 0; d < 10; d++)
                for (int take = 0; take < 6; take++)
                    File.WriteAllBytes(Path.Combine(folder, $"{d}_{speaker}_{take}.wav"),
                        Wav.Write16(Enumerable.Range(0, 600).Select(i => (float)(0.3 * Math.Sin(i * (0.1 + 0.02 * d)))).ToArray(), 8000));
        return folder;
    }

    [Fact]
    public async Task DigitsWritesTheSplitsTheSameWayForTheSameSeed()
    {
        using var dir = new TempDir();
        string fsdd = FakeFsdd(dir), a = Path.Combine(dir.Path, "a"), b = Path.Combine(dir.Path, "b");
        var (code, stdout, stderr) = await CliRunner.Run("data", "digits", "--fsdd", fsdd, "--output", a, "--train", "20", "--test", "8", "--seed", "5");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("train: 20 utterances", stdout);
        Assert.Contains("test: 8 utterances", stdout);
        Assert.Contains("split: official (test utterances from takes 0-4 only", stdout);
        (code, stdout, stderr) = await CliRunner.Run("data", "digits", "--fsdd", fsdd, "--output", b, "--train", "20", "--test", "8", "--seed", "5");
        Assert.True(code == 0, stderr + stdout);
        foreach (var f in new[] { "train.tsv", "test.tsv", "sources.tsv", "test/test-00007.wav" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(a, f)), File.ReadAllBytes(Path.Combine(b, f)));
        Assert.Equal(20, Transcripts.Read(Path.Combine(a, "train.tsv")).Count);

        (code, stdout, stderr) = await CliRunner.Run("data", "digits", "--fsdd", fsdd, "--output", b, "--train", "6", "--test", "4", "--held-out-speaker", "cy");
        Assert.True(code == 0, stderr + stdout);
        Assert.Contains("speakers cy ->", stdout);
        Assert.Contains("split: held-out speaker cy", stdout);
    }

    [Fact]
    public async Task BadSettingsAreOneLineErrors()
    {
        using var dir = new TempDir();
        string fsdd = FakeFsdd(dir);
        var (code, _, stderr) = await CliRunner.Run("data", "digits", "--fsdd", fsdd, "--output", dir.Path, "--min-digits", "5", "--max-digits", "4");
        Assert.Equal(1, code);
        Assert.StartsWith("recur: error: recur data digits: need 1 <= MinDigits <= MaxDigits, found 5 and 4", stderr);
        (code, _, stderr) = await CliRunner.Run("data", "digits", "--fsdd", fsdd, "--output", dir.Path, "--held-out-speaker", "zed");
        Assert.Equal(1, code);
        Assert.Contains("held-out speaker 'zed' has no recordings; expected one of ann, bob, cy", stderr);
        (code, _, stderr) = await CliRunner.Run("data", "digits", "--fsdd", fsdd, "--output", dir.Path, "--noise-db", "loud");
        Assert.Equal(1, code);
        Assert.Contains("--noise-db: expected a number of dB or 'off', found 'loud'", stderr);
    }
}
