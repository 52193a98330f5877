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

    [Fact]
    public async Task A_one_epoch_run_draws_a_training_curve_and_routine_checkpoints_are_reported_once()
    {
        using var d = new TempDir();
        var rows = new System.Text.StringBuilder();
        for (int i = 0; i < 48; i++) rows.Append(i % 2 == 0 ? $"good tasty {i % 5}\tpos\n" : $"bad cold {i % 5}\tneg\n");
        string data = d.File("s.tsv", rows.ToString());
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", data, "--epochs", "1", "--hidden", "8", "--embedding", "8",
            "--batch-size", "4", "--log-every", "2", "--checkpoint-every", "2", "--output", run);
        Assert.True(code == 0, stdout + stderr);
        var curve = File.ReadAllLines(Path.Combine(run, "curves.csv")).Skip(1).Where(l => l.StartsWith("train loss (logged steps),", StringComparison.Ordinal)).ToList();
        Assert.True(curve.Count >= 5, $"expected the logged steps of the epoch as a curve, found {curve.Count} points");
        Assert.Equal(1, stdout.Split('\n').Count(l => l.Contains("checkpoint (step ", StringComparison.Ordinal)));
        Assert.Contains("later checkpoints replace it", stdout);
    }

    /// <summary>A label seen once trained for some seeds and failed for others, depending on where the split put it.</summary>
    [Fact]
    public async Task A_label_seen_once_trains_for_every_seed_with_a_warning_naming_it()
    {
        using var d = new TempDir();
        var rows = new System.Text.StringBuilder();
        for (int i = 0; i < 30; i++) rows.Append(i % 2 == 0 ? $"good tasty {i % 4}\tpos\n" : $"bad cold {i % 4}\tneg\n");
        rows.Append("so so\tmeh\n");
        string data = d.File("s.tsv", rows.ToString());
        for (int seed = 1; seed <= 4; seed++)
        {
            var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", data, "--epochs", "1", "--hidden", "4", "--embedding", "4",
                "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--valid-fraction", "0.5", "--output", Path.Combine(d.Path, $"run{seed}"));
            Assert.True(code == 0, $"seed {seed}: exit {code}\n{stdout}\n{stderr}");
            Assert.Contains("1 label(s) with fewer than 5 examples: 'meh' (1)", stdout);
        }
    }

    /// <summary>--max-memory-mb applies to every task, the feed-forward one too.</summary>
    [Fact]
    public async Task An_mlp_too_large_for_the_memory_limit_is_refused_before_anything_is_written()
    {
        using var d = new TempDir();
        var rows = new System.Text.StringBuilder("a,b,label\n");
        for (int i = 0; i < 20; i++) rows.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i % 7},{i % 3},{(i % 2 == 0 ? "x" : "y")}\n");
        string data = d.File("m.csv", rows.ToString());
        string run = Path.Combine(d.Path, "run");
        var (code, _, stderr) = await CliRunner.Run("train", "--task", "mlp", "--data", data, "--mlp-hidden", "20000,20000", "--max-memory-mb", "64", "--output", run);
        Assert.Equal(1, code);
        Assert.Contains("more than the 64 MB allowed (--max-memory-mb 64)", stderr);
        Assert.Contains("layers 2 -> 20000 -> 20000 -> 2", stderr);
        Assert.False(Directory.Exists(run));
    }
}
