using System.Globalization;
using System.Text;

namespace Recur.Tests.Cli;

/// <summary>
/// Nothing lost on resume: the folder given by --output is the run (wherever it is, from any working directory), a
/// finished run is never retrained by accident, it can be trained further with a larger --epochs, and options that
/// cannot change on resume are refused by name.
/// </summary>
public sealed class ResumeTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recur-resume-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    /// <summary>A small sentiment-like TSV (generated, seeded): words that decide the label plus filler.</summary>
    private string Data()
    {
        var rng = new Recur.Tensors.Rng(11);
        string[] good = ["great", "tasty", "lovely"], bad = ["awful", "cold", "rude"], filler = ["the", "food", "was", "very", "staff", "and"];
        var sb = new StringBuilder();
        for (int i = 0; i < 60; i++)
        {
            bool pos = i % 2 == 0;
            var words = Enumerable.Range(0, 4).Select(_ => filler[(int)(rng.NextFloat() * filler.Length) % filler.Length]).ToList();
            words.Insert((int)(rng.NextFloat() * 4) % 4, (pos ? good : bad)[i % 3]);
            sb.Append(string.Join(' ', words)).Append('\t').Append(pos ? "pos" : "neg").Append('\n');
        }
        string path = Path.Combine(dir, "data.tsv");
        File.WriteAllText(path, sb.ToString());
        return path;
    }

    private string[] Train(string data, int epochs) =>
        ["train", "--task", "classify", "--data", data, "--epochs", epochs.ToString(CultureInfo.InvariantCulture), "--hidden", "8", "--embedding", "8",
         "--batch-size", "8", "--log-every", "1"];

    private static async Task Ok(Task<(int ExitCode, string Stdout, string Stderr)> run)
    {
        var r = await run;
        Assert.True(r.ExitCode == 0, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
    }

    [Fact]
    public async Task A_copied_run_folder_resumes_in_place_from_another_working_directory()
    {
        string data = Data();
        string whole = Path.Combine(dir, "whole"), cut = Path.Combine(dir, "cut"), copy = Path.Combine(dir, "elsewhere", "copy");
        await Ok(CliRunner.Run([.. Train(data, 3), "--output", whole]));
        // Interrupted after step 7, started with a relative data path from the temp folder.
        var r = await CliRunner.Run([.. Train("data.tsv", 3), "--output", "cut"], new Dictionary<string, string?> { ["RECUR_FAULT_CANCEL_AFTER_STEP"] = "7" }, dir);
        Assert.True(r.ExitCode == 130, r.Stdout + r.Stderr);
        Assert.Contains($"continue with: recur train --output {cut} --resume", r.Stdout);

        Directory.CreateDirectory(Path.GetDirectoryName(copy)!);
        CopyFolder(cut, copy);
        string other = Directory.CreateDirectory(Path.Combine(dir, "somewhere-else")).FullName;
        await Ok(CliRunner.Run(["train", "--output", copy, "--resume"], null, other));

        Assert.Equal(File.ReadAllBytes(Path.Combine(whole, "model.recur")), File.ReadAllBytes(Path.Combine(copy, "model.recur")));
        Assert.False(File.Exists(Path.Combine(cut, "model.recur")), "the original folder is not written by the copy's resume");
        Assert.True(File.Exists(Path.Combine(cut, "checkpoint.ckpt")));
        Assert.False(File.Exists(Path.Combine(copy, "checkpoint.ckpt")));
    }

    [Fact]
    public async Task A_finished_run_is_not_retrained_by_resume_and_grows_with_a_larger_epochs()
    {
        string data = Data();
        string four = Path.Combine(dir, "four"), two = Path.Combine(dir, "two");
        await Ok(CliRunner.Run([.. Train(data, 4), "--output", four]));
        await Ok(CliRunner.Run([.. Train(data, 2), "--output", two]));
        byte[] afterTwo = File.ReadAllBytes(Path.Combine(two, "model.recur"));
        Assert.True(File.Exists(Path.Combine(two, "final.ckpt")), "a finished run keeps its final checkpoint");

        var (code, stdout, stderr) = await CliRunner.Run("train", "--output", two, "--resume");
        Assert.Equal(1, code);
        Assert.Contains("holds a finished run (model.recur, 2 epochs); there is nothing to continue", stderr);
        Assert.DoesNotContain("starting the run from the beginning", stdout);
        Assert.Equal(afterTwo, File.ReadAllBytes(Path.Combine(two, "model.recur")));

        var grown = await CliRunner.Run("train", "--output", two, "--resume", "--epochs", "4");
        Assert.True(grown.ExitCode == 0, grown.Stdout + grown.Stderr);
        Assert.Contains("--epochs 4 (saved: 2) takes effect", grown.Stdout);
        // Two epochs, then two more, is the four-epoch run: same weights, optimizer moments and data order.
        Assert.Equal(File.ReadAllBytes(Path.Combine(four, "model.recur")), File.ReadAllBytes(Path.Combine(two, "model.recur")));
    }

    [Fact]
    public async Task Options_that_cannot_change_on_resume_are_refused_by_name()
    {
        string data = Data();
        string run = Path.Combine(dir, "run");
        var r = await CliRunner.Run([.. Train(data, 3), "--output", run], new Dictionary<string, string?> { ["RECUR_FAULT_CANCEL_AFTER_STEP"] = "3" });
        Assert.Equal(130, r.ExitCode);
        var (code, _, stderr) = await CliRunner.Run("train", "--output", run, "--resume", "--lr", "0.1", "--hidden", "8", "--epochs", "5");
        Assert.Equal(1, code);
        Assert.Contains("these options differ from it: --lr 0.1 (saved: 0.002)", stderr);
        Assert.DoesNotContain("--hidden", stderr);   // given, but equal to the saved value
        Assert.DoesNotContain("--epochs", stderr.Split("; only")[0]);
    }

    [Fact]
    public async Task Resume_without_a_checkpoint_says_what_the_folder_holds_and_start_over_replaces_on_request()
    {
        string data = Data();
        string empty = Directory.CreateDirectory(Path.Combine(dir, "empty")).FullName;
        var (code, _, stderr) = await CliRunner.Run("train", "--output", empty, "--resume");
        Assert.Equal(1, code);
        Assert.Contains("it has no config.json (the folder is empty)", stderr);

        // A run that stopped before its first checkpoint: config.json only.
        string early = Path.Combine(dir, "early");
        await Ok(CliRunner.Run([.. Train(data, 1), "--output", early]));
        foreach (var f in new[] { "final.ckpt", "model.recur" }) File.Delete(Path.Combine(early, f));
        (code, _, stderr) = await CliRunner.Run("train", "--output", early, "--resume");
        Assert.Equal(1, code);
        Assert.Contains("has no checkpoint to continue from: the run stopped before its first checkpoint was written; add --start-over", stderr);
        await Ok(CliRunner.Run("train", "--output", early, "--resume", "--start-over"));
        Assert.True(File.Exists(Path.Combine(early, "model.recur")));

        // A new run into a finished run's folder is refused unless asked to replace it.
        byte[] before = File.ReadAllBytes(Path.Combine(early, "model.recur"));
        (code, _, stderr) = await CliRunner.Run([.. Train(data, 2), "--output", early]);
        Assert.Equal(1, code);
        Assert.Contains("holds the model of a finished run", stderr);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(early, "model.recur")));
        await Ok(CliRunner.Run([.. Train(data, 2), "--output", early, "--start-over"]));
        Assert.NotEqual(before, File.ReadAllBytes(Path.Combine(early, "model.recur")));
    }

    /// <summary>
    /// A start that fails leaves no new files: an invalid option (checked before anything is read), bad data (found
    /// while reading), and an invalid model option found after the configuration was printed and saved.
    /// </summary>
    [Theory]
    [InlineData("--optimizer", "adamx", "--optimizer: expected one of adam, adamw, sgd, rmsprop, adagrad, found 'adamx'")]
    [InlineData("--pooling", "median", "--pooling: expected one of last, mean, max, found 'median'")]
    [InlineData("--data", "BAD", "line 2")]
    public async Task A_failed_start_leaves_no_new_files(string option, string value, string expected)
    {
        string data = Data();
        if (value == "BAD")
        {
            value = Path.Combine(dir, "bad.tsv");
            File.WriteAllText(value, "good food\tpos\nno label here\n");
        }
        string fresh = Path.Combine(dir, "fresh");
        string[] args = option == "--data" ? Train(value, 1) : [.. Train(data, 1), option, value];
        var (code, _, stderr) = await CliRunner.Run([.. args, "--output", fresh]);
        Assert.Equal(1, code);
        Assert.Contains(expected, stderr);
        Assert.False(Directory.Exists(fresh), $"{fresh} was left behind: {(Directory.Exists(fresh) ? string.Join(", ", Directory.GetFiles(fresh)) : "")}");

        // An existing folder keeps exactly what it had.
        string existing = Directory.CreateDirectory(Path.Combine(dir, "existing")).FullName;
        File.WriteAllText(Path.Combine(existing, "notes.txt"), "mine");
        (code, _, _) = await CliRunner.Run([.. args, "--output", existing]);
        Assert.Equal(1, code);
        Assert.Equal(["notes.txt"], Directory.GetFiles(existing).Select(Path.GetFileName));
    }

    /// <summary>Sizes the machine cannot hold are refused from an estimate in seconds, before any allocation or file.</summary>
    [Fact]
    public async Task Sizes_that_cannot_fit_are_refused_up_front_and_the_estimate_is_printed()
    {
        string data = Data();
        string run = Path.Combine(dir, "huge");
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, _, stderr) = await CliRunner.Run([.. Train(data, 1), "--layers", "1000000", "--output", run]);
        Assert.Equal(1, code);
        Assert.Contains("--max-memory-mb: this run needs about", stderr);
        Assert.Contains("Lower --hidden, --layers", stderr);
        Assert.False(Directory.Exists(run));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"refusing took {clock.Elapsed}");

        // A long line with a raised --max-length: the activations, not the parameters, exceed a 64 MB limit.
        string longLine = Path.Combine(dir, "long.tsv");
        File.WriteAllText(longLine, string.Join(' ', Enumerable.Repeat("word", 20_000)) + "\tpos\nshort one\tneg\nanother\tpos\nand more\tneg\n");
        (code, _, stderr) = await CliRunner.Run([.. Train(longLine, 1), "--max-length", "1000000", "--valid-fraction", "0", "--max-memory-mb", "64", "--output", run]);
        Assert.Equal(1, code);
        Assert.Contains("more than the 64 MB allowed (--max-memory-mb 64)", stderr);
        Assert.Contains("x 20000 tokens", stderr);

        var ok = await CliRunner.Run([.. Train(data, 1), "--output", run]);
        Assert.True(ok.ExitCode == 0, ok.Stderr);
        Assert.Contains("memory (estimate): ", ok.Stdout);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var f in Directory.GetFiles(from)) File.Copy(f, Path.Combine(to, Path.GetFileName(f)));
    }
}
