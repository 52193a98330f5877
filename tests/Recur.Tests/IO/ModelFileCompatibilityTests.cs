using System.Globalization;
using System.Text;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;
using Recur.Tests.Cli;
using Recur.Tests.Data;

namespace Recur.Tests.IO;

/// <summary>
/// Model files of format 1, written by `recur train` (and the library, for a bare recurrent stack) before the typed
/// serialiser existed, with what `recur predict` printed from them then (tests/fixtures/model-files-v1). They must
/// still load, map their preprocessing strings into the typed section, and give the same predictions: through the
/// library alone and through the tool.
/// </summary>
public sealed class ModelFileCompatibilityTests
{
    private static string Fixtures => Path.Combine(Support.Repo.Root, "tests", "fixtures", "model-files-v1");

    private static string Fixture(string name) => Path.Combine(Fixtures, name);

    private static int VersionOf(string path)
    {
        var st = SafeTensorsFile.Load(path);
        using var doc = System.Text.Json.JsonDocument.Parse(st.Metadata["recur"]);
        return doc.RootElement.GetProperty("format_version").GetInt32();
    }

    [Theory]
    [InlineData("classify")]
    [InlineData("tag")]
    [InlineData("lm")]
    [InlineData("seq2seq")]
    [InlineData("forecast")]
    [InlineData("audio")]
    [InlineData("mlp")]
    public async Task AFormat1FilePredictsAsRecordedThroughTheLibraryAndTheTool(string task)
    {
        string model = Fixture(task + ".recur");
        Assert.Equal(1, VersionOf(model));
        string input = File.ReadAllText(Fixture(task + ".input.txt"));
        string expected = File.ReadAllText(Fixture(task + ".predict.jsonl"));

        var bundle = ModelFile.Load(model);
        Assert.Equal(expected, LibraryPredictions.Jsonl(task, bundle, input, Fixtures));

        string[] args = task == "seq2seq" ? ["translate", "--model", model, "--input", Fixture(task + ".input.txt"), "--beam", "2", "--format", "jsonl"]
            : ["predict", "--model", model, "--input", Fixture(task + ".input.txt"), "--format", "jsonl"];
        var r = await RunIn(Fixtures, args); // the audio inputs are paths relative to the fixtures
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(expected, r.Stdout.Replace("\r\n", "\n"));
    }

    /// <summary>Runs the tool in <paramref name="workingDirectory"/> (without changing this process's directory, which parallel tests share).</summary>
    internal static async Task<(int ExitCode, string Stdout, string Stderr)> RunIn(string workingDirectory, string[] args)
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = workingDirectory };
        psi.ArgumentList.Add(CliRunner.Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        var ct = TestContext.Current.CancellationToken;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        return (p.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public void Format1PreprocessingStringsBecomeTheTypedSection()
    {
        var mlp = ModelFile.Load(Fixture("mlp.recur"));
        Assert.Equal(3, mlp.Preprocessing!.Standardizer!.Columns);
        Assert.Equal(1e-6f, mlp.Preprocessing.Standardizer.Std[2]); // the old MLP rule for its constant column, kept as stored
        Assert.False(mlp.Metadata.ContainsKey("feature_mean"));
        Assert.False(mlp.Metadata.ContainsKey("feature_std"));

        var audio = ModelFile.Load(Fixture("audio.recur"));
        Assert.Equal(8000, audio.Preprocessing!.Audio!.SampleRate);
        Assert.Equal(6, audio.Preprocessing.Audio.Features.Coefficients);
        Assert.Equal(12, audio.Preprocessing.Audio.Features.MelBands);
        Assert.Equal(6, audio.Preprocessing.Standardizer!.Columns);
        Assert.False(audio.Metadata.ContainsKey("sample_rate"));

        var forecast = ModelFile.Load(Fixture("forecast.recur"));
        Assert.Same(((Forecaster)forecast.Model).Standardizer, forecast.Preprocessing!.Standardizer);
        Assert.Equal([2.1130962f], forecast.Preprocessing.Standardizer!.Std);

        var music = ModelFile.Load(Fixture("music.recur"));
        Assert.True(music.Preprocessing!.Music!.LowestPitch > 0);
        Assert.False(music.Metadata.ContainsKey("lowest_pitch"));
    }

    [Fact]
    public void Format1GenerationIsAsRecorded()
    {
        var lm = ModelFile.Load(Fixture("lm.recur"));
        Assert.Equal(File.ReadAllText(Fixture("lm.generate.txt")), lm.GenerateText("ab", 12, 1f, 0, 1f, 3) + "\n");

        var music = ModelFile.Load(Fixture("music.recur"));
        var piece = music.GeneratePiece(null, 8, 1f, 3);
        using var d = new TempDir();
        string json = Path.Combine(d.Path, "g.json");
        PianoRoll.WriteJson(json, [piece]);
        Assert.Equal(File.ReadAllText(Fixture("music.generate.json")), File.ReadAllText(json));
    }

    [Fact]
    public void AFormat1BareRecurrentStackGivesTheRecordedOutput()
    {
        var b = ModelFile.Load(Fixture("recurrent.recur"));
        var r = Assert.IsType<Recurrent>(b.Model);
        Assert.Equal("bare recurrent stack", b.Metadata["note"]);
        var x = Tensor.FromArray(Enumerable.Range(0, 2 * 5 * 3).Select(i => MathF.Sin(i * 0.7f)).ToArray(), 2, 5, 3);
        using var y = r.Forward(x);
        var expected = File.ReadAllLines(Fixture("recurrent.output.txt")).Select(l => float.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        // Recorded before issue 13's cell math, whose sigmoid and tanh differ from the old ones by a few ulp (both within
        // 2.5 ulp of float64, docs/engine.md "Cell math"), so the outputs move by about 1e-7. A weight loaded into the
        // wrong place, the thing this fixture guards, moves them by orders of magnitude more.
        float[] actual = y.Output.ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= 1e-6, $"output {i}: {actual[i]:R}, recorded {expected[i]:R}");
    }

    [Fact]
    public void EveryFormat1FileReSavesAsTheCurrentFormatAndLoadsTheSame()
    {
        using var d = new TempDir();
        foreach (var task in new[] { "classify", "tag", "lm", "seq2seq", "forecast", "audio", "mlp", "music", "recurrent" })
        {
            var old = ModelFile.Load(Fixture(task + ".recur"));
            string path = Path.Combine(d.Path, task + ".recur");
            ModelFile.Save(path, old);
            Assert.Equal(ModelFile.FormatVersion, VersionOf(path));
            var again = ModelFile.Load(path);
            Assert.Equal(old.Model.GetType(), again.Model.GetType());
            Assert.Equal(old.Preprocessing, again.Preprocessing, PreprocessingEquals);
            Assert.Equal(old.Metadata, again.Metadata);
            foreach (var ((n1, p1), (n2, p2)) in old.Model.NamedParameters().Zip(again.Model.NamedParameters()))
            {
                Assert.Equal(n1, n2);
                Assert.Equal(p1.Value.ToArray(), p2.Value.ToArray());
            }
        }
    }

    private static bool PreprocessingEquals(ModelPreprocessing? a, ModelPreprocessing? b) =>
        a is null ? b is null : b is not null
            && (a.Standardizer is null ? b.Standardizer is null : b.Standardizer is not null && a.Standardizer.Mean.SequenceEqual(b.Standardizer.Mean) && a.Standardizer.Std.SequenceEqual(b.Standardizer.Std))
            && Equals(a.Audio, b.Audio) && Equals(a.Music, b.Music);

    [Theory]
    [InlineData("classify", "\"hidden_size\":4", "\"hidden_size\":3000000")]
    [InlineData("lm", "\"hidden_size\":4", "\"hidden_size\":3000000")]
    [InlineData("seq2seq", "\"decoder_hidden\":4", "\"decoder_hidden\":3000000")]
    [InlineData("forecast", "\"hidden_size\":4", "\"hidden_size\":3000000")]
    [InlineData("music", "\"frame_size\":37", "\"frame_size\":2000000000")]
    [InlineData("mlp", "\"hidden\":[64,64]", "\"hidden\":[64,2000000000]")]
    [InlineData("recurrent", "\"input_size\":3", "\"input_size\":2000000000")]
    public void EveryKindChecksItsConfiguredSizesAgainstTheStoredElementsBeforeAllocating(string task, string from, string to)
    {
        using var d = new TempDir();
        var st = SafeTensorsFile.Load(Fixture(task + ".recur"));
        var meta = st.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Contains(from, meta["recur"]);
        meta["recur"] = meta["recur"].Replace(from, to);
        string path = Path.Combine(d.Path, "hostile.recur");
        SafeTensorsFile.Save(path, st.Names.Select(n => new KeyValuePair<string, Tensor>(n, st.ReadTensor(n))), meta);
        var e = Assert.Throws<RecurFormatException>(() => ModelFile.Load(path));
        Assert.Contains("stored elements", e.Message);
    }

    [Fact]
    public void TheTypedSectionsAreValidatedOnLoad()
    {
        using var d = new TempDir();
        var mlp = ModelFile.Load(Fixture("mlp.recur"));
        string path = Path.Combine(d.Path, "mlp.recur");
        ModelFile.Save(path, mlp);
        var st = SafeTensorsFile.Load(path);
        string json = st.Metadata["recur"];
        Assert.Contains("\"preprocessing\":{\"standardizer\":{\"mean\":", json);
        Assert.DoesNotContain("feature_mean", json);

        void Expect(string from, string to, string message)
        {
            Assert.Contains(from, json);
            var meta = st.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
            meta["recur"] = json.Replace(from, to);
            string bad = Path.Combine(d.Path, "bad.recur");
            SafeTensorsFile.Save(bad, st.Names.Select(n => new KeyValuePair<string, Tensor>(n, st.ReadTensor(n))), meta);
            var e = Assert.Throws<RecurFormatException>(() => ModelFile.Load(bad));
            Assert.Contains(message, e.Message);
        }
        Expect("\"std\":[", "\"std\":[-1,", "positive standard deviations");
        Expect("\"outputs\":2", "\"outputs\":\"two\"", "model.outputs: expected a value of this field's type, found \"two\"");
        Expect("\"inputs\":3,", "", "model.inputs: expected this required field, found none"); // a required field of the record
        Expect("\"kind\":\"mlp\"", "\"kind\":\"perceptron\"", "expected one of classifier, tagger, language_model");
    }
}
