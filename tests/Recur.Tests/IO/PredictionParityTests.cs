using System.Globalization;
using System.Text;
using Recur.Data;
using Recur.IO;
using Recur.Tensors;
using Recur.Tests.Cli;

namespace Recur.Tests.IO;

/// <summary>
/// For every task: train a tiny model with `recur train`, then check that <see cref="ModelFile.Load"/> plus one
/// <see cref="ModelBundle"/> call per input, from C# alone, gives exactly what `recur predict` (translate, generate)
/// prints. The preprocessing the tool applied comes from the file's typed section, not from tool code.
/// </summary>
public sealed class PredictionParityTests : IDisposable
{
    private readonly Recur.Tests.Data.TempDir temp = new();
    private string dir => temp.Path;

    public void Dispose() => temp.Dispose();

    private string Write(string name, string text) => temp.File(name, text);

    /// <summary>The task's training arguments and its prediction input (null for music).</summary>
    private (string[] Args, string? Input) Prepare(string task)
    {
        var rng = new Rng(11);
        int R(int n) => (int)(rng.NextUInt64() % (ulong)n);
        var sb = new StringBuilder();
        switch (task)
        {
            case "classify":
                sb.Append("text\tlabel\n");
                for (int i = 0; i < 30; i++) sb.Append(i % 2 == 0 ? $"the {(R(2) == 0 ? "good" : "great")} food\tpos\n" : $"the {(R(2) == 0 ? "bad" : "awful")} food\tneg\n");
                return (["--data", Write("c.tsv", sb.ToString()), "--text-column", "text", "--label-column", "label"], "the good food\nawful\nan unknown word\n");
            case "tag":
                for (int i = 0; i < 20; i++) sb.Append(R(2) == 0 ? "the DET\ndog NOUN\nruns VERB\n\n" : "a DET\ncat NOUN\nsleeps VERB\n\n");
                return (["--data", Write("t.conll", sb.ToString())], "the cat runs\na dog\nunknown words here\n");
            case "lm":
                for (int i = 0; i < 40; i++) sb.Append("abcab ");
                return (["--data", Write("l.txt", sb.ToString()), "--bptt", "8", "--batch-size", "4"], "abca\nc\n");
            case "seq2seq":
                sb.Append("source,target\n");
                string[] v = ["one", "two", "three"];
                for (int i = 0; i < 30; i++) { var s = Enumerable.Range(0, 2 + R(2)).Select(_ => v[R(3)]).ToArray(); sb.Append($"{string.Join(' ', s)},{string.Join(' ', s.Reverse())}\n"); }
                return (["--data", Write("s.csv", sb.ToString()), "--source-column", "source", "--target-column", "target"], "one two\nthree three one\n");
            case "forecast":
                sb.Append("t,value\n");
                for (int i = 0; i < 60; i++) sb.Append(string.Create(CultureInfo.InvariantCulture, $"{i},{5 + 2 * Math.Cos(i * Math.PI / 5):F3}\n"));
                return (["--data", Write("f.csv", sb.ToString()), "--column", "value", "--window", "5", "--horizon", "3", "--difference", "true"], sb.ToString());
            case "audio":
                string folder = Path.Combine(dir, "wav");
                Directory.CreateDirectory(folder);
                for (int i = 0; i < 8; i++)
                {
                    bool high = i % 2 == 0;
                    var samples = Enumerable.Range(0, 1600).Select(t => (float)(0.4 * Math.Sin(2 * Math.PI * (high ? 1800 : 250) * t / 8000.0))).ToArray();
                    File.WriteAllBytes(Path.Combine(folder, $"{(high ? "high" : "low")}_{i}.wav"), Wav.Write16(samples, 8000));
                }
                return (["--data", folder, "--mfcc", "5", "--mel-bands", "10"], "wav/high_0.wav\nwav/low_3.wav\n");
            case "music":
                var pieces = Enumerable.Range(0, 6).Select(k => new Piece([.. new[] { 0, 4, 7, 12 }.Select(d => new[] { 55 + k + d })])).ToList();
                string p = Path.Combine(dir, "m.json");
                PianoRoll.WriteJson(p, pieces);
                return (["--data", p, "--batch-size", "2"], null);
            default: // mlp, with a constant column
                sb.Append("a,b,c,label\n");
                for (int i = 0; i < 40; i++) { double a = R(100) / 50.0 - 1, b = R(100) / 25.0; sb.Append(string.Create(CultureInfo.InvariantCulture, $"{a:F2},{b:F2},7,{(a > 0 ? "x" : "y")}\n")); }
                return (["--data", Write("m.csv", sb.ToString()), "--mlp-hidden", "5"], "0.5,1.5,7\n-0.5,3,8\n");
        }
    }

    [Theory]
    [InlineData("classify")]
    [InlineData("tag")]
    [InlineData("lm")]
    [InlineData("seq2seq")]
    [InlineData("forecast")]
    [InlineData("audio")]
    [InlineData("mlp")]
    [InlineData("music")]
    public async Task TheLibraryCallReproducesTheToolsPredictions(string task)
    {
        var (args, input) = Prepare(task);
        string run = Path.Combine(dir, "run");
        var r = await CliRunner.Run(["train", "--task", task, "--epochs", "2", .. CliRunner.Sizes(task, 4), "--output", run, .. args]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        string model = Path.Combine(run, "model.recur");
        var bundle = ModelFile.Load(model);
        Assert.DoesNotContain(bundle.Metadata.Keys, k => k is "feature_mean" or "feature_std" or "sample_rate" or "lowest_pitch");

        if (task == "music")
        {
            string json = Path.Combine(dir, "g.json");
            r = await CliRunner.Run("generate", "--model", model, "--length", "10", "--seed", "5", "--midi", Path.Combine(dir, "g.mid"), "--json", json);
            Assert.True(r.ExitCode == 0, r.Stderr);
            string mine = Path.Combine(dir, "mine.json");
            PianoRoll.WriteJson(mine, [bundle.GeneratePiece(null, 10, 1f, 5)]);
            Assert.Equal(File.ReadAllText(json), File.ReadAllText(mine));
            return;
        }
        string inputFile = Write("input.txt", input!);
        r = await ModelFileCompatibilityTests.RunIn(dir, task == "seq2seq"
            ? ["translate", "--model", model, "--input", inputFile, "--beam", "2", "--format", "jsonl"]
            : ["predict", "--model", model, "--input", inputFile, "--format", "jsonl"]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.NotEmpty(r.Stdout.Trim());
        Assert.Equal(r.Stdout.Replace("\r\n", "\n"), LibraryPredictions.Jsonl(task, bundle, input!, dir));

        if (task == "lm")
        {
            r = await CliRunner.Run("generate", "--model", model, "--prompt", "ab", "--length", "15", "--seed", "9", "--temperature", "0.8");
            Assert.True(r.ExitCode == 0, r.Stderr);
            Assert.Equal(r.Stdout.Replace("\r\n", "\n"), bundle.GenerateText("ab", 15, 0.8f, 0, 1f, 9) + "\n");
        }
    }
}
