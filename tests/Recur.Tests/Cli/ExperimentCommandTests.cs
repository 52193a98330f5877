using System.Text.Json;

namespace Recur.Tests.Cli;

/// <summary>
/// `recur experiment NAME` is a preset of `recur train` plus a baseline: it writes the experiment's data split, an
/// ordinary run folder (config.json with the preset's options and the user's overrides) whose model.recur works
/// with evaluate and predict, and prints the comparison. The generated-data experiments need no shared data.
/// </summary>
public sealed class ExperimentCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recur-experiment-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    private static Dictionary<string, string> Config(string runDir)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "config.json")));
        return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    [Fact]
    public async Task TaggingRunsThroughTrainWithItsBaselineAndWritesAModelThatPredictAndEvaluateAccept()
    {
        var (code, stdout, stderr) = await CliRunner.Run("experiment", "tagging", "--output", dir, "--epochs", "1", "--hidden", "16");
        Assert.True(code == 0, stderr + stdout);
        string run = Path.Combine(dir, "tagging");
        Assert.Contains("recur train --task tag", stdout);
        Assert.Contains("most frequent tag per word", stdout);
        Assert.Contains("on ambiguous tokens", stdout);

        var config = Config(run);
        Assert.Equal("tag", config["task"]);
        Assert.Equal("1", config["epochs"]);     // the user's override
        Assert.Equal("16", config["hidden"]);
        Assert.Equal("32", config["embedding"]); // the preset's
        Assert.Equal("true", config["bidirectional"]);
        Assert.Equal("42", config["seed"]);
        Assert.Equal(Path.Combine(run, "data", "test.conll"), config["test"]);
        foreach (var f in new[] { "model.recur", "metrics.json", "metrics.jsonl", "report.html", "data/train.conll", "data/valid.conll" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        Assert.False(File.Exists(Path.Combine(run, "checkpoint.ckpt")), "a finished run leaves no checkpoint");

        string model = Path.Combine(run, "model.recur");
        (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", config["test"], "--json", "-");
        Assert.True(code == 0, stderr);
        Assert.Contains("\"accuracy\"", stdout);
        string input = Path.Combine(dir, "input.txt");
        File.WriteAllText(input, "the dog can run fast .\n");
        (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", input);
        Assert.True(code == 0, stderr);
        Assert.StartsWith("the/", stdout.Trim());
    }

    [Fact]
    public async Task DataOnlyWritesTheSplitForRecurTrainAndTrainsNothing()
    {
        foreach (var (name, files) in new[] { ("music", new[] { "train.json", "held-out.json" }), ("tagging", new[] { "train.conll", "valid.conll", "test.conll" }) })
        {
            var (code, stdout, stderr) = await CliRunner.Run("experiment", name, "--data-only", "--output", dir);
            Assert.True(code == 0, stderr + stdout);
            string run = Path.Combine(dir, name);
            foreach (var f in files) Assert.True(File.Exists(Path.Combine(run, "data", f)), f);
            Assert.Equal(["data"], Directory.EnumerateFileSystemEntries(run).Select(Path.GetFileName));
            Assert.Contains("data written (--data-only), train on it with: recur train --task " + (name == "music" ? "music" : "tag"), stdout);
        }
    }

    [Fact]
    public async Task MusicComparesWithTheUntrainedModelThroughTheSameTaskAndWritesMidi()
    {
        var (code, stdout, stderr) = await CliRunner.Run("experiment", "music", "--output", dir, "--epochs", "3", "--hidden", "16");
        Assert.True(code == 0, stderr + stdout);
        string run = Path.Combine(dir, "music");
        Assert.Contains("untrained model, held-out pieces", stdout);
        Assert.Equal("0", Config(Path.Combine(run, "untrained"))["lr"]);
        Assert.Equal("3", Config(run)["epochs"]);
        foreach (var f in new[] { "model.recur", "untrained/model.recur", "c-major-greedy.mid", "sampled.mid", "f-minor-held-out-greedy.mid" })
            Assert.True(File.Exists(Path.Combine(run, f)), f);
        (code, _, stderr) = await CliRunner.Run("generate", "--model", Path.Combine(run, "model.recur"), "--length", "8", "--midi", Path.Combine(dir, "g.mid"));
        Assert.True(code == 0, stderr);
    }

    [Fact]
    public async Task APresetRejectsOptionsItControlsAndUnknownSeries()
    {
        var (code, _, stderr) = await CliRunner.Run("experiment", "forecast", "tides", "--output", dir, "--data", dir);
        Assert.NotEqual(0, code);
        Assert.Contains("expected airline, sunspots or co2, found 'tides'", stderr);
        (code, _, _) = await CliRunner.Run("experiment", "tagging", "--task", "lm", "--output", dir);
        Assert.NotEqual(0, code);
    }
}
