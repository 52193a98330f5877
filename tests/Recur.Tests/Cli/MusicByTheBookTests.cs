using System.Globalization;
using System.Text.Json;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary>
/// `recur train --task music` by the field's convention: an 88-key roll (MIDI 21-108) unless --pitch-range says
/// otherwise, the NLL per frame summed over exactly those keys, a pitch outside the range an error naming the file,
/// piece and step, --test scored after training, and --dropout acting on a one-layer model.
/// </summary>
public sealed class MusicByTheBookTests : IDisposable
{
    private readonly TempDir d = new();

    public void Dispose() => d.Dispose();

    /// <summary>Twelve short pieces: a rising scale and a triad in each key from <paramref name="root"/>.</summary>
    private string Pieces(string name, int root = 60, int count = 12)
    {
        var pieces = Enumerable.Range(0, count).Select(k => new Piece([.. new[] { 0, 2, 4, 5, 7 }.Select(x => new[] { root + k + x }), new[] { root + k, root + k + 4, root + k + 7 }])).ToList();
        string p = Path.Combine(d.Path, name);
        PianoRoll.WriteJson(p, pieces);
        return p;
    }

    private async Task<string> Train(string name, params string[] args)
    {
        string run = Path.Combine(d.Path, name);
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--task", "music", "--epochs", "2", "--hidden", "8", "--batch-size", "4", "--output", run, .. args]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        return run;
    }

    /// <summary>A metric of the run's metrics.json: its plain key, or the key with the split prefix the run may add (test_, val_).</summary>
    private static double Metric(string run, string key)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        foreach (var prefix in new[] { "", "test_", "val_" })
            if (doc.RootElement.TryGetProperty(prefix + key, out var v)) return v.GetDouble();
        throw new KeyNotFoundException($"{key} in {doc.RootElement}");
    }

    private static async Task<double> Evaluate(string model, string data)
    {
        var (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", data, "--json", "-");
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        using var doc = JsonDocument.Parse(stdout);
        return doc.RootElement.GetProperty("nll_per_frame").GetDouble();
    }

    [Fact]
    public async Task The_default_roll_is_the_88_piano_keys_and_the_output_says_what_the_NLL_sums_over()
    {
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "music", "--data", Pieces("a.json"), "--epochs", "1", "--hidden", "8", "--output", run);
        Assert.True(code == 0, stderr);
        var bundle = ModelFile.Load(Path.Combine(run, "model.recur"));
        Assert.Equal(21, bundle.Preprocessing!.Music!.LowestPitch);
        Assert.Equal(88, ((ConditionalGenerator)bundle.Model).Config.FrameSize);
        Assert.Contains("summed over the 88 keys of MIDI 21-108 (the 88 piano keys), averaged over the", stdout);
        Assert.Contains("summed over the 88 keys of MIDI 21-108", File.ReadAllText(Path.Combine(run, "report.html")));
    }

    /// <summary>
    /// The oracle: with every weight zero, each key's probability is 1/2 whatever the input, so the NLL of any frame
    /// is (number of keys) x ln 2 exactly: 88 ln 2 = 60.997 nats on the default roll, 12 ln 2 on a 12-key range.
    /// </summary>
    [Theory]
    [InlineData(null, 88)]
    [InlineData("60-71", 12)]
    public async Task A_model_with_zero_weights_scores_the_number_of_keys_times_ln2_per_frame(string? range, int keys)
    {
        string data = Pieces("a.json", root: 60, count: 3);
        string run = await Train("run", ["--data", data, .. range is null ? Array.Empty<string>() : ["--pitch-range", range]]);
        string model = Path.Combine(run, "model.recur");
        var bundle = ModelFile.Load(model);
        foreach (var p in bundle.Model.Parameters()) p.Value.Span.Clear();
        string zeroed = Path.Combine(d.Path, "zero.recur");
        ModelFile.Save(zeroed, bundle);
        Assert.Equal(keys * Math.Log(2), await Evaluate(zeroed, data), 4);
    }

    [Fact]
    public async Task A_pitch_outside_the_range_is_an_error_naming_the_file_piece_and_step()
    {
        string good = Pieces("good.json");
        string bad = Path.Combine(d.Path, "bad.json");
        PianoRoll.WriteJson(bad, [new Piece([[60], [62]]), new Piece([[60], [64], [60, 110]])]);
        foreach (var option in new[] { "--data", "--valid", "--test" })
        {
            string[] args = option == "--data" ? ["--data", bad] : ["--data", good, option, bad];
            var (code, _, stderr) = await CliRunner.Run(["train", "--task", "music", "--epochs", "1", "--hidden", "4", "--output", Path.Combine(d.Path, "r" + option), .. args]);
            Assert.Equal(1, code);
            Assert.Contains("bad.json: piece 1 step 2: expected MIDI pitches in --pitch-range 21-108, found 110", stderr);
        }
        var (c2, _, e2) = await CliRunner.Run("train", "--task", "music", "--data", good, "--pitch-range", "60-75", "--epochs", "1", "--output", Path.Combine(d.Path, "narrow"));
        Assert.Equal(1, c2);
        Assert.Contains("good.json: piece 9 step 4: expected MIDI pitches in --pitch-range 60-75, found 76", e2);
        var (c3, _, e3) = await CliRunner.Run("train", "--task", "music", "--data", good, "--pitch-range", "70-60", "--output", Path.Combine(d.Path, "backwards"));
        Assert.Equal(1, c3);
        Assert.Contains("--pitch-range: expected LOW-HIGH", e3);
    }

    [Fact]
    public async Task The_metrics_come_from_the_test_file_when_one_is_given()
    {
        string train = Pieces("train.json", 60), valid = Pieces("valid.json", 48, 3), test = Pieces("test.json", 72, 4);
        string run = await Train("run", "--data", train, "--valid", valid, "--test", test);
        string model = Path.Combine(run, "model.recur");
        double onTest = await Evaluate(model, test), onValid = await Evaluate(model, valid);
        Assert.NotEqual(onTest, onValid, 3);
        Assert.Equal(onTest, Metric(run, "nll_per_frame"), 6);
    }

    [Fact]
    public async Task A_model_of_the_old_format_keeps_its_own_range_and_says_so()
    {
        string fixture = Path.Combine(Support.Repo.Root, "tests", "fixtures", "model-files-v1", "music.recur");
        string inRange = Path.Combine(d.Path, "in.json"), outOfRange = Path.Combine(d.Path, "out.json");
        PianoRoll.WriteJson(inRange, [new Piece([[48], [60, 64], [84]])]);
        PianoRoll.WriteJson(outOfRange, [new Piece([[48], [90]])]);
        var (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", fixture, "--data", inRange);
        Assert.True(code == 0, stderr);
        Assert.Contains("summed over the 37 keys of MIDI 48-84, averaged over the 3 frames", stdout);
        (code, _, stderr) = await CliRunner.Run("evaluate", "--model", fixture, "--data", outOfRange);
        Assert.Equal(1, code);
        Assert.Contains("out.json: piece 0 step 1: expected MIDI pitches in the model's range 48-84, found 90", stderr);
    }

    [Fact]
    public async Task Dropout_changes_the_training_of_a_one_layer_model()
    {
        string data = Pieces("a.json");
        string plain = await Train("plain", "--data", data, "--seed", "3");
        string dropped = await Train("dropped", "--data", data, "--seed", "3", "--dropout", "0.5");
        string again = await Train("again", "--data", data, "--seed", "3", "--dropout", "0.5");
        float[] Weights(string run) => ModelFile.Load(Path.Combine(run, "model.recur")).Model.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        var a = Weights(plain);
        var b = Weights(dropped);
        Assert.Equal(a.Length, b.Length);
        Assert.NotEqual(a, b);
        Assert.Equal(b, Weights(again));   // seeded: the same masks each time
        Assert.Equal(1, ((ConditionalGenerator)ModelFile.Load(Path.Combine(dropped, "model.recur")).Model).Config.Layers);
    }
}
