using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Recur.Data;
using Recur.IO;
using Recur.Tensors;

namespace Recur.Tests.Cli;

/// <summary>
/// `recur train` for every task on small data the test generates, then evaluate (JSON keys), predict, generate,
/// translate, inspect and export on the result; and the run folder's contents.
/// </summary>
public sealed class TrainCommandTests : IDisposable
{
    private readonly Recur.Tests.Data.TempDir temp = new();
    private string dir => temp.Path;

    public void Dispose() => temp.Dispose();

    private string Write(string name, string text) => temp.File(name, text);

    /// <summary>Writes the task's data and returns (training args, evaluate data, one predict input line or null, expected metric keys).</summary>
    private (string[] Args, string EvalData, string? PredictLine, string[] Keys) Prepare(string task)
    {
        var rng = new Rng(7);
        int R(int n) => (int)(rng.NextUInt64() % (ulong)n);
        var sb = new StringBuilder();
        switch (task)
        {
            case "classify":
            {
                string[] good = ["great", "good", "lovely"], bad = ["awful", "bad", "poor"], filler = ["the", "food", "was", "really", "service"];
                sb.Append("text\tlabel\n");
                for (int i = 0; i < 120; i++)
                {
                    bool pos = i % 2 == 0;
                    sb.Append($"{filler[R(5)]} {filler[R(5)]} {(pos ? good : bad)[R(3)]} {filler[R(5)]}\t{(pos ? "pos" : "neg")}\n");
                }
                string p = Write("cls.tsv", sb.ToString());
                return (["--data", p, "--text-column", "text", "--label-column", "label"], p, "the food was great", ["accuracy", "macro_f1", "loss"]);
            }
            case "tag":
            {
                var lex = new (string W, string T)[] { ("the", "DET"), ("a", "DET"), ("dog", "NOUN"), ("cat", "NOUN"), ("runs", "VERB"), ("sleeps", "VERB") };
                for (int i = 0; i < 60; i++)
                {
                    foreach (int k in new[] { R(2), 2 + R(2), 4 + R(2) }) sb.Append($"{lex[k].W} {lex[k].T}\n");
                    sb.Append('\n');
                }
                string p = Write("tag.conll", sb.ToString());
                return (["--data", p], p, "the cat runs", ["accuracy", "macro_f1", "loss"]);
            }
            case "lm":
            {
                for (int i = 0; i < 300; i++) sb.Append("abcab ");
                string p = Write("lm.txt", sb.ToString());
                return (["--data", p, "--bptt", "16", "--batch-size", "4"], p, "abca", ["loss", "perplexity", "bits_per_char"]);
            }
            case "seq2seq":
            {
                string[] v = ["one", "two", "three", "four", "five"];
                sb.Append("source,target\n");
                for (int i = 0; i < 80; i++)
                {
                    var s = Enumerable.Range(0, 2 + R(3)).Select(_ => v[R(5)]).ToArray();
                    sb.Append($"{string.Join(' ', s)},{string.Join(' ', s.Reverse())}\n");
                }
                string p = Write("s2s.csv", sb.ToString());
                return (["--data", p, "--source-column", "source", "--target-column", "target", "--beam", "2"], p, "one two", ["bleu", "bleu_greedy", "chrf", "chrf_greedy", "exact_match", "exact_match_greedy", "hit_max_length", "repeated_bigram", "loss"]);
            }
            case "forecast":
            {
                sb.Append("t,value\n");
                for (int i = 0; i < 120; i++) sb.Append(string.Create(CultureInfo.InvariantCulture, $"{i},{(i == 50 ? "" : (10 + 3 * Math.Sin(i * Math.PI / 6)).ToString("F3", CultureInfo.InvariantCulture))}\n"));
                string p = Write("series.csv", sb.ToString());
                return (["--data", p, "--column", "value", "--window", "12", "--season", "12", "--horizon", "2"], p, null, ["mae", "rmse", "naive_mae", "naive_rmse", "seasonal_naive_mae"]);
            }
            case "audio":
            {
                string folder = Path.Combine(dir, "wav");
                Directory.CreateDirectory(folder);
                for (int i = 0; i < 16; i++)
                {
                    bool high = i % 2 == 0;
                    var samples = Enumerable.Range(0, 2400).Select(t => (float)(0.5 * Math.Sin(2 * Math.PI * (high ? 2000 : 300) * t / 8000.0))).ToArray();
                    File.WriteAllBytes(Path.Combine(folder, $"{(high ? "high" : "low")}_{i}.wav"), Wav.Write16(samples, 8000));
                }
                // Evaluation reads a list file (paths relative to it, with labels) instead of the folder.
                string list = Write("clips.csv", "wav/high_0.wav,high\nwav/low_1.wav,low\nwav/high_2.wav,high\n");
                return (["--data", folder, "--pooling", "mean"], list, Path.Combine(folder, "high_0.wav"), ["accuracy", "macro_f1", "loss"]);
            }
            case "asr":
            {
                // Two "words" by pitch: a 300 Hz tone is "a", a 1,500 Hz tone "b".
                string list = AsrCliTests.ToneUtterances(temp);
                string folder = Path.Combine(dir, "speech");
                return (["--data", list, "--subsample", "2"], list, Path.Combine(folder, "u0.wav"), ["cer", "wer", "utterance_accuracy", "loss"]);
            }
            case "music":
            {
                var pieces = Enumerable.Range(0, 12).Select(k => new Piece([.. new[] { 0, 2, 4, 5, 7 }.Select(d => new[] { 60 + k + d }), new[] { 60 + k, 64 + k, 67 + k }])).ToList();
                string p = Path.Combine(dir, "music.json");
                PianoRoll.WriteJson(p, pieces);
                return (["--data", p, "--batch-size", "4"], p, null, ["nll_per_frame"]);
            }
            default: // mlp
            {
                sb.Append("x1,x2,label\n");
                for (int i = 0; i < 100; i++)
                {
                    double a = R(1000) / 500.0 - 1, b = R(1000) / 500.0 - 1;
                    sb.Append(string.Create(CultureInfo.InvariantCulture, $"{a:F3},{b:F3},{(a + b > 0 ? "up" : "down")}\n"));
                }
                string p = Write("mlp.csv", sb.ToString());
                return (["--data", p], p, "0.5,0.5", ["accuracy", "macro_f1", "loss"]);
            }
        }
    }

    [Theory]
    [InlineData("classify")]
    [InlineData("tag")]
    [InlineData("lm")]
    [InlineData("seq2seq")]
    [InlineData("forecast")]
    [InlineData("audio")]
    [InlineData("music")]
    [InlineData("mlp")]
    [InlineData("asr")]
    public async Task EveryTaskTrainsEvaluatesAndPredictsFromFiles(string task)
    {
        var (args, evalData, predictLine, keys) = Prepare(task);
        string run = Path.Combine(dir, "run");
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--task", task, "--epochs", "2", .. CliRunner.Sizes(task, 8), "--output", run, .. args]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("configuration (saved to", stdout);
        foreach (var f in new[] { "config.json", "metrics.jsonl", "metrics.json", "model.recur", "curves.png", "report.html" })
            Assert.True(File.Exists(Path.Combine(run, f)), $"{f} missing in the run folder:\n{stdout}");
        Assert.False(File.Exists(Path.Combine(run, "checkpoint.ckpt")), "a finished run removes its checkpoint");
        Assert.Contains("<h2>Metrics</h2>", File.ReadAllText(Path.Combine(run, "report.html")));
        Assert.Contains("data:image/png;base64,", File.ReadAllText(Path.Combine(run, "report.html")));
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
            Assert.Equal(task, config.RootElement.GetProperty("task").GetString());
        // No --test: the figures come from the validation part (forecast: its test part), and their names say so.
        string split = task == "forecast" ? "test" : "val";
        using (var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json"))))
            foreach (var k in keys)
                Assert.True(saved.RootElement.TryGetProperty($"{split}_{k}", out var v) && v.ValueKind == JsonValueKind.Number && !saved.RootElement.TryGetProperty(k, out _),
                    $"metric {split}_{k} missing in metrics.json: {saved.RootElement}");
        var logRows = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, logRows.Count(r => r.GetProperty("kind").GetString() == "epochend"));
        Assert.All(logRows.Where(r => r.GetProperty("kind").GetString() == "step"), r =>
        {
            Assert.True(r.GetProperty("step").GetInt64() > 0);
            Assert.Equal(JsonValueKind.Number, r.GetProperty("loss").ValueKind);
            Assert.Equal(JsonValueKind.Number, r.GetProperty("lr").ValueKind);
        });
        if (task is "classify" or "tag" or "audio" or "mlp")
            Assert.Contains("<h2>Confusion matrix</h2>", File.ReadAllText(Path.Combine(run, "report.html")));

        string model = Path.Combine(run, "model.recur");
        (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", evalData, "--json", "-");
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        using (var metrics = JsonDocument.Parse(stdout))
            foreach (var k in keys)
                Assert.True(metrics.RootElement.TryGetProperty(k, out var v) && v.ValueKind == JsonValueKind.Number, $"metric {k} missing in {stdout}");

        (code, stdout, stderr) = await CliRunner.Run("inspect", model);
        Assert.True(code == 0, stderr);
        Assert.Contains("parameters:", stdout);

        if (predictLine is not null)
        {
            string input = Write("input.txt", predictLine + "\n");
            (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", input, "--format", "jsonl");
            Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
            using var row = JsonDocument.Parse(stdout.Trim());
            Assert.Equal(JsonValueKind.Object, row.RootElement.ValueKind);
        }
        switch (task)
        {
            case "forecast":
                (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", evalData);
                Assert.True(code == 0, stderr);
                Assert.Equal(2, stdout.Trim().Split('\n').Length); // --horizon 2
                break;
            case "lm":
                (code, stdout, stderr) = await CliRunner.Run("generate", "--model", model, "--prompt", "abc", "--length", "20", "--seed", "3");
                Assert.True(code == 0, stderr);
                Assert.StartsWith("abc", stdout);
                Assert.True(stdout.TrimEnd('\n').Length > 3, stdout); // 20 sampled tokens follow (an untrained model may sample <unk>)
                // A music-only option given to a language model is an error naming it, not ignored.
                (code, _, stderr) = await CliRunner.Run("generate", "--model", model, "--length", "5", "--midi", Path.Combine(dir, "lm.mid"));
                Assert.NotEqual(0, code);
                Assert.Contains("--midi", stderr);
                break;
            case "music":
                string mid = Path.Combine(dir, "out.mid");
                (code, _, stderr) = await CliRunner.Run("generate", "--model", model, "--length", "8", "--midi", mid);
                Assert.True(code == 0, stderr);
                Assert.Equal("MThd"u8.ToArray(), File.ReadAllBytes(mid)[..4]);
                // The piano-roll sampler has no top-k, top-p or text prompt: each is an error naming it, not ignored.
                foreach (var extra in new[] { new[] { "--top-k", "5" }, ["--top-p", "0.9"], ["--prompt", "abc"] })
                {
                    (code, _, stderr) = await CliRunner.Run(["generate", "--model", model, "--length", "8", "--midi", mid, .. extra]);
                    Assert.NotEqual(0, code);
                    Assert.Contains(extra[0], stderr);
                }
                break;
            case "seq2seq":
                // Blank lines give blank lines, so the output lines up with the input, greedy and beam, with the remedies on.
                string src = Write("src.txt", "one two three\n\nfour five\n   \none\n");
                foreach (var extra in new[] { new[] { "--beam", "3" }, ["--beam", "1", "--no-repeat-ngram", "1"], ["--beam", "3", "--length-penalty", "gnmt:0.6", "--no-repeat-ngram", "2"] })
                {
                    (code, stdout, stderr) = await CliRunner.Run(["translate", "--model", model, "--input", src, .. extra]);
                    Assert.True(code == 0, stderr);
                    var lines = stdout.Split('\n')[..^1];
                    Assert.Equal(5, lines.Length);
                    Assert.Equal("", lines[1]);
                    Assert.Equal("", lines[3]);
                }
                // As JSON lines, each output names its input line: they line up one to one.
                (code, stdout, stderr) = await CliRunner.Run("translate", "--model", model, "--input", src, "--beam", "2", "--format", "jsonl");
                Assert.True(code == 0, stderr);
                Assert.Equal(["one two three", "", "four five", "   ", "one"],
                    stdout.Split('\n')[..^1].Select(l => { using var d = JsonDocument.Parse(l); return d.RootElement.GetProperty("source").GetString(); }));
                // A length penalty with greedy decoding cannot take effect: an error naming the option.
                (code, _, stderr) = await CliRunner.Run("translate", "--model", model, "--input", src, "--beam", "1", "--length-penalty", "0.5");
                Assert.NotEqual(0, code);
                Assert.Contains("--length-penalty", stderr);
                // --score-limit 0: the loss only, no decoding.
                (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", model, "--data", evalData, "--json", "-", "--score-limit", "0");
                Assert.True(code == 0, stderr);
                using (var lossOnly = JsonDocument.Parse(stdout))
                {
                    Assert.True(lossOnly.RootElement.TryGetProperty("loss", out _), stdout);
                    Assert.False(lossOnly.RootElement.TryGetProperty("bleu", out _), stdout);
                }
                break;
            case "tag" or "classify":
                string onnx = Path.Combine(dir, "model.onnx");
                (code, stdout, stderr) = await CliRunner.Run("export", model, "--onnx", onnx);
                Assert.True(code == 0, stderr);
                Assert.True(new FileInfo(onnx).Length > 100);
                break;
        }
    }

    [Fact]
    public async Task MaxStepsStopsTrainingAndIsRecordedInTheModelFile()
    {
        var (args, _, _, _) = Prepare("classify");
        string run = Path.Combine(dir, "run");
        var r = await CliRunner.Run(["train", "--task", "classify", "--epochs", "5", "--max-steps", "3", "--hidden", "8", "--output", run, .. args]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        var meta = ModelFile.Load(Path.Combine(run, "model.recur")).Metadata;
        Assert.Equal("3", meta["steps"]);
        Assert.Equal("1", meta["epochs_run"]);
        Assert.Equal("3", meta["config.max-steps"]);
    }

    [Fact]
    public async Task SameSeedGivesByteIdenticalModelFiles()
    {
        var (args, _, _, _) = Prepare("classify");
        string a = Path.Combine(dir, "a"), b = Path.Combine(dir, "b");
        string[] common = ["train", "--task", "classify", "--epochs", "2", "--hidden", "8", "--dropout", "0.2", .. args];
        Assert.Equal(0, (await CliRunner.Run([.. common, "--output", a])).ExitCode);
        Assert.Equal(0, (await CliRunner.Run([.. common, "--output", b])).ExitCode);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "model.recur")), File.ReadAllBytes(Path.Combine(b, "model.recur")));
        // A different seed gives a different model: the comparison can fail.
        string c = Path.Combine(dir, "c");
        Assert.Equal(0, (await CliRunner.Run([.. common, "--output", c, "--seed", "2"])).ExitCode);
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(a, "model.recur")), File.ReadAllBytes(Path.Combine(c, "model.recur")));
    }

    [Fact]
    public async Task BadDataGetsOneLineErrorsNamingFileAndLine()
    {
        string missingColumn = Write("bad.tsv", "a good one\tpos\nonly text here\n");
        var (code, _, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", missingColumn, "--output", Path.Combine(dir, "x"));
        Assert.Equal(1, code);
        Assert.Contains("bad.tsv: line 2: expected 2 columns", stderr);

        string headerOnly = Write("header.csv", "text,label\n");
        (code, _, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", headerOnly, "--text-column", "text", "--label-column", "label", "--output", Path.Combine(dir, "y"));
        Assert.Equal(1, code);
        Assert.Contains("header.csv", stderr);
        Assert.Contains("only the header", stderr);

        string noColumn = Write("named.csv", "text,label\nhi,pos\n");
        (code, _, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", noColumn, "--text-column", "review", "--output", Path.Combine(dir, "z"));
        Assert.Equal(1, code);
        Assert.Contains("expected a column named 'review', found [text, label]", stderr);

        (code, _, stderr) = await CliRunner.Run("train", "--task", "poetry", "--data", noColumn);
        Assert.Equal(1, code);
        Assert.Contains("--task: expected one of classify, tag, lm", stderr);

        (code, _, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", noColumn, "--epochs", "zero");
        Assert.Equal(1, code);
        Assert.Contains("--epochs: expected an integer", stderr);
    }

    /// <summary>Rows of the bad-input table in docs/reliability.md that are checked through the command line.</summary>
    [Theory]
    [InlineData("empty file", "classify", "empty.tsv", "", "", "empty.tsv: file: expected rows of data, found an empty file")]
    [InlineData("sequence over the maximum", "classify", "long.tsv", "a b c d e f\tpos\nb c\tneg\n", "--max-length=4", "long.tsv: line 1: expected at most 4 tokens (--max-length), found 6")]
    [InlineData("empty sequence", "music", "empty.json", "[[[60]], []]", "", "empty.json: piece 1: expected at least one step, found an empty piece")]
    [InlineData("non-numeric value in a numeric column", "mlp", "text.csv", "x,label\n1.5,a\nfast,b\n", "", "text.csv: line 3 column 'x': expected a finite number, found \"fast\"")]
    [InlineData("NaN in a numeric column", "mlp", "nan.csv", "x,label\n1.5,a\nNaN,b\n", "", "nan.csv: line 3 column 'x': expected a finite number, found \"NaN\"")]
    [InlineData("Inf in a series", "forecast", "inf.csv", "value\n1\n2\nInfinity\n", "", "inf.csv: line 4 column 'value': expected a finite number, found \"Infinity\"")]
    [InlineData("text that is not UTF-8", "lm", "latin1.txt", "caf\u00e9", "", "latin1.txt: line 1 (byte 3): expected UTF-8 text")]
    [InlineData("extra column", "classify", "extra.tsv", "good\tpos\nbad\tneg\tx\n", "", "extra.tsv: line 2: expected 2 columns like the first row, found 3 (extra columns")]
    public async Task BadInputRowsGetAClearErrorThroughTheCommand(string row, string task, string file, string content, string extra, string expected)
    {
        string path = Path.Combine(dir, file);
        if (file == "latin1.txt") File.WriteAllBytes(path, Encoding.Latin1.GetBytes(content.Replace("\\n", "\n")));
        else File.WriteAllText(path, content.Replace("\\t", "\t").Replace("\\n", "\n"));
        string[] args = ["train", "--task", task, "--data", path, "--output", Path.Combine(dir, "run"), "--epochs", "1"];
        if (extra.Length > 0) args = [.. args, extra];
        var (code, stdout, stderr) = await CliRunner.Run(args);
        Assert.True(code == 1, $"{row}: exit {code}\n{stdout}\n{stderr}");
        Assert.Contains(expected, stderr);
        Assert.StartsWith("recur: error: ", stderr);
        Assert.Single(stderr.Trim().Split('\n')); // one line, no stack trace
    }

    [Fact]
    public async Task AModelWhoseInputWidthDoesNotMatchTheDataIsRejected()
    {
        var (args, _, _, _) = Prepare("mlp");
        string run = Path.Combine(dir, "run");
        Assert.Equal(0, (await CliRunner.Run(["train", "--task", "mlp", "--epochs", "1", "--output", run, .. args])).ExitCode);
        string wide = Write("wide.csv", "x1,x2,x3,label\n0.1,0.2,0.3,up\n");
        var (code, _, stderr) = await CliRunner.Run("evaluate", "--model", Path.Combine(run, "model.recur"), "--data", wide);
        Assert.Equal(1, code);
        Assert.Contains("wide.csv: --feature-columns: expected 2 feature columns as the model was trained with, found 3", stderr);
        string input = Write("in.txt", "0.1,0.2,0.3\n");
        (code, _, stderr) = await CliRunner.Run("predict", "--model", Path.Combine(run, "model.recur"), "--input", input);
        Assert.Equal(1, code);
        Assert.Contains("line 1: expected 2 feature values, found 3", stderr);
    }

    [Fact]
    public async Task UnknownLabelAtEvaluationIsAnErrorNamingTheLine()
    {
        var (args, _, _, _) = Prepare("classify");
        string run = Path.Combine(dir, "run");
        Assert.Equal(0, (await CliRunner.Run(["train", "--task", "classify", "--epochs", "1", "--hidden", "8", "--output", run, .. args])).ExitCode);
        string other = Write("other.tsv", "text\tlabel\ngreat food\tpos\nawful food\tneutral\n");
        var (code, _, stderr) = await CliRunner.Run("evaluate", "--model", Path.Combine(run, "model.recur"), "--data", other);
        Assert.Equal(1, code);
        Assert.Contains("other.tsv: line 3 field 'label': expected one of the model's labels [neg, pos], found 'neutral'", stderr);
    }

    /// <summary>
    /// Every task resumes exactly: stopped after a given step (as by Ctrl-C, through the fault-injection variable
    /// RECUR_FAULT_CANCEL_AFTER_STEP), then `--resume`d, the model file equals an uninterrupted run's byte for byte.
    /// Dropout, scheduled sampling, shuffling and a plateau schedule are on where the task has them.
    /// </summary>
    [Theory]
    [InlineData("classify", 5)]
    [InlineData("tag", 3)]
    [InlineData("seq2seq", 4)]
    [InlineData("forecast", 2)]
    [InlineData("audio", 1)]
    [InlineData("music", 2)]
    [InlineData("mlp", 4)]
    [InlineData("asr", 2)]
    public async Task EveryTaskResumesToTheSameModelFile(string task, int stopAfter)
    {
        var (args, _, _, _) = Prepare(task);
        string[] extra = task switch
        {
            "seq2seq" => ["--scheduled-sampling", "0.5"],
            "audio" => ["--batch-size", "4"],
            "asr" => ["--batch-size", "4", "--time-masks", "1", "--time-mask-width", "3", "--freq-masks", "1", "--freq-mask-width", "2"],
            "forecast" => ["--layers", "2"],   // the forecaster drops out between layers only: --dropout with one layer is an error
            _ => [],
        };
        string[] common = ["train", "--task", task, "--epochs", "3", .. CliRunner.Sizes(task, 8), "--dropout", "0.2", "--schedule", "plateau",
                           "--log-every", "1", .. args, .. extra];
        string a = Path.Combine(dir, "a"), b = Path.Combine(dir, "b");
        var r = await CliRunner.Run([.. common, "--output", a]);
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);

        r = await CliRunner.Run([.. common, "--output", b], new Dictionary<string, string?> { ["RECUR_FAULT_CANCEL_AFTER_STEP"] = stopAfter.ToString(CultureInfo.InvariantCulture) });
        Assert.True(r.ExitCode == 130, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        Assert.True(File.Exists(Path.Combine(b, "checkpoint.ckpt")));
        r = await CliRunner.Run("train", "--output", b, "--resume");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "model.recur")), File.ReadAllBytes(Path.Combine(b, "model.recur")));
    }

    /// <summary>
    /// SIGTERM (as Ctrl-C's SIGINT) makes training write a checkpoint and exit 130; `--resume` then finishes the run, and
    /// the model file is byte-identical to that of a run that was never stopped.
    /// </summary>
    [Fact]
    public async Task InterruptedRunResumesToTheSameModelFile()
    {
        var (args, _, _, _) = Prepare("lm");
        string[] common = ["train", "--task", "lm", "--epochs", "40", "--hidden", "16", "--dropout", "0.1", "--checkpoint-every", "7", .. args];
        string a = Path.Combine(dir, "a"), b = Path.Combine(dir, "b");
        Assert.Equal(0, (await CliRunner.Run([.. common, "--output", a])).ExitCode);

        using var p = CliRunner.Start([.. common, "--output", b]);
        string ckpt = Path.Combine(b, "checkpoint.ckpt");
        var clock = Stopwatch.StartNew();
        while (!File.Exists(ckpt) && clock.Elapsed < TimeSpan.FromSeconds(60)) await Task.Delay(20, TestContext.Current.CancellationToken);
        Assert.True(File.Exists(ckpt), "no checkpoint appeared");
        CliRunner.Signal(p, "TERM");
        await p.WaitForExitAsync(TestContext.Current.CancellationToken);
        string output = await p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        Assert.True(p.ExitCode == 130, $"exit {p.ExitCode}\n{output}");
        Assert.Contains("--resume", output);
        Assert.False(File.Exists(Path.Combine(b, "model.recur")));

        var (code, stdout, stderr) = await CliRunner.Run("train", "--output", b, "--resume");
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "model.recur")), File.ReadAllBytes(Path.Combine(b, "model.recur")));
    }
}

/// <summary>On a terminal, `recur train` draws a live progress bar (Spectre.Console); run under a pseudo-terminal.</summary>
public sealed class TrainProgressBarTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recur-tty-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task OnATerminalTrainingShowsALiveProgressBar()
    {
        if (!File.Exists("/usr/bin/script"))
        {
            Assert.Skip("util-linux `script` (to run the tool under a pseudo-terminal) is not installed");
            return;
        }
        string data = Path.Combine(dir, "data.tsv");
        File.WriteAllLines(data, Enumerable.Range(0, 60).Select(i => i % 2 == 0 ? $"good nice fine {i}\tpos" : $"bad awful poor {i}\tneg"));
        string run = Path.Combine(dir, "run");
        string command = string.Join(' ', new[] { "dotnet", CliRunner.Dll, "train", "--task", "classify", "--data", data, "--epochs", "2", "--hidden", "8", "--log-every", "1", "--output", run }
            .Select(a => "'" + a.Replace("'", "'\\''") + "'"));
        var psi = new ProcessStartInfo("/usr/bin/script") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "-qec", command, "/dev/null" }) psi.ArgumentList.Add(a);
        psi.Environment.Remove("CI"); // the tool prints plain lines under CI
        psi.Environment["TERM"] = "xterm-256color";
        using var p = Process.Start(psi)!;
        var ct = TestContext.Current.CancellationToken;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        string output = await stdout;
        Assert.True(p.ExitCode == 0, $"exit {p.ExitCode}\n{output}\n{await stderr}");
        Assert.Contains("\u2501", output);                 // the bar Spectre.Console draws
        Assert.DoesNotContain("  epoch 1/2 step", output); // the plain-line printer (which prints every step here) did not run
        Assert.Contains("epoch 2/2: train loss", output);  // epoch summaries above the bar
        Assert.True(File.Exists(Path.Combine(run, "model.recur")));
    }
}
