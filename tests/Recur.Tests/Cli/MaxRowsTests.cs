using System.Text;
using System.Text.RegularExpressions;

namespace Recur.Tests.Cli;

/// <summary>`recur train --max-rows N` trains on the first N examples of --data (the README tour's quick runs on large shared files).</summary>
public sealed partial class MaxRowsTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recur-maxrows-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [GeneratedRegex(@"(\d+) training / (\d+) validation (examples|tokens)")]
    private static partial Regex Counts();

    private static (int Train, int Valid) Read(string stdout)
    {
        var m = Counts().Match(stdout);
        Assert.True(m.Success, stdout);
        return (int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture), int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task AClassifierTrainsOnTheFirstRowsOnly()
    {
        var sb = new StringBuilder();
        for (int i = 0; i < 120; i++) sb.Append(i % 2 == 0 ? "good food\tpos\n" : "bad food\tneg\n");
        // Rows after the first 50 would be an error (a third label seen once): they are not read into the run.
        sb.Append("odd\tother\n");
        string data = Path.Combine(dir, "cls.tsv");
        File.WriteAllText(data, sb.ToString());
        string[] common = ["train", "--task", "classify", "--data", data, "--epochs", "1", "--hidden", "8", "--embedding", "8"];

        var (code, stdout, stderr) = await CliRunner.Run([.. common, "--max-rows", "50", "--output", Path.Combine(dir, "a")]);
        Assert.True(code == 0, stdout + stderr);
        var (train, valid) = Read(stdout);
        Assert.Equal(50, train + valid);
        Assert.DoesNotContain("'other'", stdout + stderr);

        (code, stdout, stderr) = await CliRunner.Run([.. common, "--output", Path.Combine(dir, "b")]);
        Assert.True(code == 0, stdout + stderr);
        (train, valid) = Read(stdout);
        Assert.Equal(121, train + valid);
        Assert.Contains("'other' (1)", stdout + stderr); // the rare-label warning: all rows were read

        (code, _, stderr) = await CliRunner.Run([.. common, "--max-rows", "-1", "--output", Path.Combine(dir, "c")]);
        Assert.Equal(1, code);
        Assert.Contains("--max-rows: expected an integer in [0,", stderr);
    }

    [Fact]
    public async Task ALanguageModelTrainsOnTheFirstLinesOnly()
    {
        string data = Path.Combine(dir, "text.txt");
        File.WriteAllText(data, string.Concat(Enumerable.Repeat("abcdefghi\n", 100)));
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "lm", "--data", data, "--max-rows", "10", "--batch-size", "2", "--bptt", "4",
            "--epochs", "1", "--hidden", "8", "--embedding", "8", "--output", Path.Combine(dir, "lm"));
        Assert.True(code == 0, stdout + stderr);
        var (train, valid) = Read(stdout);
        Assert.Equal(100, train + valid); // 10 lines of 10 characters, not 1,000
    }
}
