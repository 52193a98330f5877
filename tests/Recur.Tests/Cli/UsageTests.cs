using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary>What a new user sees first: the program's name in usage, and one clear line for a path of the wrong kind.</summary>
public class UsageTests
{
    [Fact]
    public async Task Usage_names_the_program_recur()
    {
        var (code, stdout, _) = await CliRunner.Run("train", "--help");
        Assert.Equal(0, code);
        Assert.Contains("recur train [options]", stdout);
        Assert.DoesNotContain("Recur.Cli", stdout);
    }

    [Fact]
    public async Task An_output_that_is_a_file_and_data_that_is_a_folder_get_one_line_naming_them()
    {
        using var d = new TempDir();
        string data = d.File("s.tsv", "good\tpos\nbad\tneg\nfine\tpos\nawful\tneg\n");
        string file = d.File("taken", "not a folder");
        var (code, _, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", data, "--output", file, "--epochs", "1");
        Assert.Equal(1, code);
        Assert.Contains($"{file}: expected a run folder (new or existing), found a file", stderr);
        Assert.DoesNotContain("already exists", stderr);

        var (code2, _, stderr2) = await CliRunner.Run("train", "--task", "classify", "--data", d.Path, "--output", Path.Combine(d.Path, "run"), "--epochs", "1");
        Assert.Equal(1, code2);
        Assert.Contains($"{d.Path}: path: expected a file, found a folder", stderr2);
        Assert.DoesNotContain("file not found", stderr2);
    }
}
