using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Recur.IO;
using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary>
/// Every option of `recur train` takes effect or is refused: an option of another task, or one whose condition does not
/// hold (--momentum without SGD), is an error naming it; config.json, the model's config.* metadata and the printout list
/// only the options that act; metrics say their split; SGD's momentum, the schedules' options and --init do what they say.
/// </summary>
public class OptionTests
{
    private static string Reviews(TempDir d, string name, int n, int offset = 0)
    {
        var sb = new StringBuilder();
        for (int i = offset; i < offset + n; i++) sb.Append(i % 2 == 0 ? $"good tasty food {i % 5}\tpos\n" : $"bad cold food {i % 5}\tneg\n");
        return d.File(name, sb.ToString());
    }

    private static string[] Classify(string data, string run, params string[] more) =>
        ["train", "--task", "classify", "--data", data, "--hidden", "8", "--embedding", "8", "--batch-size", "4", "--output", run,
         .. (more.Contains("--epochs") ? Array.Empty<string>() : ["--epochs", "1"]), .. more];

    [Theory]
    [InlineData("classify", "--bptt", "32", "--bptt: does not apply to --task classify (it applies to lm)")]
    [InlineData("forecast", "--embedding", "8", "--embedding: does not apply to --task forecast (it applies to classify, tag, lm, seq2seq)")]
    [InlineData("mlp", "--hidden", "8", "--hidden: does not apply to --task mlp")]
    [InlineData("tag", "--tokenizer", "char", "--tokenizer: does not apply to --task tag")]
    [InlineData("music", "--bidirectional", "true", "--bidirectional: does not apply to --task music")]
    [InlineData("lm", "--pooling", "max", "--pooling: does not apply to --task lm (it applies to classify, audio, sequence)")]
    [InlineData("forecast", "--max-length", "50", "--max-length: does not apply to --task forecast")]
    public async Task An_option_of_another_task_is_an_error_naming_the_option_the_task_and_where_it_applies(string task, string option, string value, string message)
    {
        using var d = new TempDir();
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", task, "--data", d.File("data.txt", "x\n"), "--output", run, option, value);
        Assert.True(code == 1, stdout + stderr);
        Assert.Contains(message, stderr);
        Assert.False(Directory.Exists(run), "a refused run writes nothing");
    }

    [Theory]
    [InlineData("--momentum 0.9", "--momentum: takes effect only with --optimizer sgd")]
    [InlineData("--optimizer rmsprop --nesterov true", "--nesterov: takes effect only with --optimizer sgd")]
    [InlineData("--optimizer sgd --nesterov true", "--nesterov: Nesterov momentum needs --momentum > 0")]
    [InlineData("--warmup 10", "--warmup: takes effect only with --schedule cosine")]
    [InlineData("--schedule plateau --step-size 2", "--step-size: takes effect only with --schedule step")]
    [InlineData("--schedule cosine --plateau-patience 3", "--plateau-patience: takes effect only with --schedule plateau")]
    [InlineData("--decay-factor 0.1", "--decay-factor: takes effect only with --schedule step or plateau")]
    [InlineData("--schedule step --min-lr 0.0001", "--min-lr: takes effect only with --schedule cosine or plateau")]
    [InlineData("--min-delta 0.01", "--min-delta: takes effect only with --patience > 0")]
    [InlineData("--tokenizer char --lowercase false", "--lowercase: takes effect only with word tokens")]
    [InlineData("--init uniform:-1", "--init: expected default or uniform:A with a number A > 0")]
    [InlineData("--schedule plateau --decay-factor 1", "--decay-factor: the plateau schedule needs a factor below 1")]
    [InlineData("--schedule cosine --min-lr 0.5", "--min-lr: expected at most --lr")]
    public async Task An_option_whose_condition_does_not_hold_is_an_error_naming_it(string options, string message)
    {
        using var d = new TempDir();
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run(Classify(Reviews(d, "s.tsv", 24), run, options.Split(' ')));
        Assert.True(code == 1, stdout + stderr);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public async Task Config_metadata_and_printout_list_only_the_options_that_act_and_metrics_name_their_split()
    {
        using var d = new TempDir();
        string data = Reviews(d, "train.tsv", 40), test = Reviews(d, "test.tsv", 10, offset: 3);
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run(Classify(data, run, "--test", test, "--optimizer", "sgd", "--momentum", "0.9", "--lr", "0.05"));
        Assert.True(code == 0, stdout + stderr);
        Assert.Matches(@"\n  momentum +0\.9\r?\n", stdout);
        Assert.DoesNotContain("  bptt ", stdout);
        Assert.DoesNotContain("  warmup ", stdout);

        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json")));
        var keys = config.RootElement.EnumerateObject().Select(p => p.Name).ToHashSet();
        Assert.Contains("momentum", keys);
        Assert.Contains("text-column", keys);
        foreach (var other in new[] { "bptt", "window", "mfcc", "beam", "mlp-hidden", "warmup", "step-size", "min-delta", "plateau-patience" }) Assert.DoesNotContain(other, keys);

        var bundle = ModelFile.Load(Path.Combine(run, "model.recur"));
        var stored = bundle.Metadata.Keys.Where(k => k.StartsWith("config.", StringComparison.Ordinal)).Select(k => k[7..]).ToHashSet();
        Assert.Equal(keys.Where(k => k != "output").Order(), stored.Order());

        // Scored on --test: every key says so, in metrics.json, the metadata and the report.
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "metrics.json")));
        Assert.Equal(["test_accuracy", "test_loss", "test_macro_f1"], metrics.RootElement.EnumerateObject().Select(p => p.Name).Order());
        Assert.True(bundle.Metadata.ContainsKey("metric.test_accuracy"));
        Assert.DoesNotContain("metric.accuracy", bundle.Metadata.Keys);
        Assert.Contains("test_accuracy", File.ReadAllText(Path.Combine(run, "report.html")));

        // Without --test the figures come from the validation part.
        string run2 = Path.Combine(d.Path, "run2");
        (code, stdout, stderr) = await CliRunner.Run(Classify(data, run2));
        Assert.True(code == 0, stdout + stderr);
        using var metrics2 = JsonDocument.Parse(File.ReadAllText(Path.Combine(run2, "metrics.json")));
        Assert.Equal(["val_accuracy", "val_loss", "val_macro_f1"], metrics2.RootElement.EnumerateObject().Select(p => p.Name).Order());
        Assert.DoesNotContain("  momentum ", stdout); // adam has none

        // evaluate keeps plain keys (it names its file), and refuses an override the task does not read.
        (code, stdout, stderr) = await CliRunner.Run("evaluate", "--model", Path.Combine(run, "model.recur"), "--data", test, "--json", "-");
        Assert.True(code == 0, stderr);
        Assert.Contains("\"accuracy\"", stdout);
        (code, _, stderr) = await CliRunner.Run("evaluate", "--model", Path.Combine(run, "model.recur"), "--data", test, "--bptt", "10");
        Assert.Equal(1, code);
        Assert.Contains("--bptt: does not apply to --task classify", stderr);

        // --resume with an option of another task is refused the same way.
        (code, _, stderr) = await CliRunner.Run("train", "--output", run, "--resume", "--window", "5");
        Assert.Equal(1, code);
        Assert.Contains("--window: does not apply to --task classify (it applies to forecast)", stderr);
    }

    [Fact]
    public async Task Sgd_has_no_momentum_unless_asked_for()
    {
        using var d = new TempDir();
        string data = Reviews(d, "s.tsv", 32);
        async Task<byte[]> Model(string name, params string[] more)
        {
            string run = Path.Combine(d.Path, name);
            var (code, stdout, stderr) = await CliRunner.Run(Classify(data, run, ["--optimizer", "sgd", "--lr", "0.5", "--epochs", "2", .. more]));
            Assert.True(code == 0, stdout + stderr);
            return File.ReadAllBytes(Path.Combine(run, "model.recur"));
        }
        var plain = await Model("plain");
        Assert.Equal(plain, await Model("zero", "--momentum", "0"));
        Assert.NotEqual(plain, await Model("heavy", "--momentum", "0.9"));
        Assert.NotEqual(await Model("nesterov", "--momentum", "0.9", "--nesterov", "true"), await Model("heavy2", "--momentum", "0.9"));
    }

    private static Dictionary<int, double> LearningRateByEpoch(string run) =>
        File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(r => r.GetProperty("kind").GetString() == "step")
            .GroupBy(r => r.GetProperty("epoch").GetInt32())
            .ToDictionary(g => g.Key, g => g.Select(r => r.GetProperty("lr").GetDouble()).Distinct().Single());

    [Fact]
    public async Task The_step_schedule_keeps_the_rate_for_step_start_epochs_then_decays_every_step_size()
    {
        using var d = new TempDir();
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run(Classify(Reviews(d, "s.tsv", 24), run, "--epochs", "5", "--log-every", "1", "--optimizer", "sgd", "--lr", "1",
            "--schedule", "step", "--step-size", "1", "--step-start", "2", "--decay-factor", "0.5"));
        Assert.True(code == 0, stdout + stderr);
        var lr = LearningRateByEpoch(run);
        Assert.Equal([1.0, 1.0, 0.5, 0.25, 0.125], Enumerable.Range(1, 5).Select(e => lr[e]));
    }

    [Fact]
    public async Task Cosine_ends_at_its_floor_when_max_steps_ends_the_run()
    {
        using var d = new TempDir();
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run(Classify(Reviews(d, "s.tsv", 48), run, "--epochs", "20", "--max-steps", "6", "--log-every", "1",
            "--lr", "0.01", "--schedule", "cosine", "--min-lr", "0.001"));
        Assert.True(code == 0, stdout + stderr);
        var steps = File.ReadAllLines(Path.Combine(run, "metrics.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(r => r.GetProperty("kind").GetString() == "step").ToDictionary(r => r.GetProperty("step").GetInt64(), r => r.GetProperty("lr").GetDouble());
        Assert.Equal(6, steps.Keys.Max());
        Assert.Equal(0.001, steps[6], 6);                                    // the floor, at the last step
        Assert.Equal(0.001 + 0.009 * (1 + Math.Cos(Math.PI * 3 / 6)) / 2, steps[3], 6); // halfway down
    }

    [Fact]
    public async Task Init_uniform_draws_every_parameter_from_the_range()
    {
        using var d = new TempDir();
        string run = Path.Combine(d.Path, "run");
        // Learning rate 0: the saved weights are the initial ones.
        var (code, stdout, stderr) = await CliRunner.Run(Classify(Reviews(d, "s.tsv", 24), run, "--init", "uniform:0.05", "--lr", "0"));
        Assert.True(code == 0, stdout + stderr);
        var all = ModelFile.Load(Path.Combine(run, "model.recur")).Model.Parameters().SelectMany(p => p.Value.ToArray()).ToArray();
        Assert.All(all, v => Assert.InRange(v, -0.05f, 0.05f));
        Assert.True(all.Max() > 0.04f && all.Min() < -0.04f, "the draws cover the range");
    }

    [Fact]
    public async Task A_run_with_momentum_a_step_schedule_and_uniform_init_resumes_to_the_same_model_file()
    {
        using var d = new TempDir();
        string data = Reviews(d, "s.tsv", 40);
        string[] options = ["--epochs", "3", "--optimizer", "sgd", "--lr", "0.5", "--momentum", "0.9", "--nesterov", "true", "--schedule", "step", "--step-size", "1",
                            "--step-start", "1", "--decay-factor", "0.5", "--init", "uniform:0.1", "--patience", "2", "--min-delta", "0.001", "--log-every", "1"];
        string a = Path.Combine(d.Path, "a"), b = Path.Combine(d.Path, "b");
        var r = await CliRunner.Run(Classify(data, a, options));
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        r = await CliRunner.Run(Classify(data, b, options), new Dictionary<string, string?> { ["RECUR_FAULT_CANCEL_AFTER_STEP"] = "13" });
        Assert.True(r.ExitCode == 130, $"exit {r.ExitCode}\n{r.Stdout}\n{r.Stderr}");
        r = await CliRunner.Run("train", "--output", b, "--resume");
        Assert.True(r.ExitCode == 0, r.Stdout + r.Stderr);
        Assert.Equal(File.ReadAllBytes(Path.Combine(a, "model.recur")), File.ReadAllBytes(Path.Combine(b, "model.recur")));
    }

    [Fact]
    public async Task Evaluate_help_shows_the_models_own_values_as_defaults()
    {
        var (code, stdout, _) = await CliRunner.Run("evaluate", "--help");
        Assert.Equal(0, code);
        string text = Regex.Replace(stdout, @"\s+", " ");
        Assert.Contains("--bptt", text);
        Assert.Contains("(default: the model's training value)", text);
        Assert.DoesNotContain("(default: 64)", text);
        Assert.DoesNotContain("(default: 32)", text);
    }

    [Fact]
    public async Task A_preset_drops_its_own_options_that_a_users_override_makes_inactive()
    {
        using var d = new TempDir();
        string root = Path.Combine(d.Path, "data");
        Directory.CreateDirectory(Path.Combine(root, "tiny-shakespeare"));
        var text = new StringBuilder();
        for (int i = 0; i < 60; i++) text.Append(CultureInfo.InvariantCulture, $"ROMEO: line {i % 7} of the play.\n");
        File.WriteAllText(Path.Combine(root, "tiny-shakespeare", "input.txt"), text.ToString());
        // The char-lm preset sets --schedule cosine --warmup 200; with --schedule step its warm-up has no meaning.
        var (code, stdout, stderr) = await CliRunner.Run("experiment", "char-lm", "--data", root, "--output", Path.Combine(d.Path, "out"),
            "--schedule", "step", "--epochs", "1", "--hidden", "16", "--embedding", "8", "--layers", "1", "--batch-size", "4", "--bptt", "20");
        Assert.True(code == 0, stdout + stderr);
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(d.Path, "out", "char-lm", "config.json")));
        Assert.Equal("step", config.RootElement.GetProperty("schedule").GetString());
        Assert.False(config.RootElement.TryGetProperty("warmup", out _));
        Assert.Contains("validation: ", stdout); // the preset's report reads the val_ metrics

        // The experiment's own options are the task's: an lm preset has no --pooling.
        (code, _, stderr) = await CliRunner.Run("experiment", "char-lm", "--data", root, "--pooling", "max");
        Assert.Equal(1, code);
        Assert.Contains("--pooling", stderr);
    }

    [Theory]
    [InlineData("sentiment")]
    [InlineData("char-lm")]
    [InlineData("forecast")]
    [InlineData("tagging")]
    [InlineData("translation")]
    [InlineData("speech")]
    [InlineData("music")]
    [InlineData("word-lm")]
    public async Task Every_preset_passes_only_options_of_its_task(string experiment)
    {
        // The check runs before the preset reads or writes any data, so an empty data folder is enough to reach it.
        using var d = new TempDir();
        var (_, stdout, stderr) = await CliRunner.Run("experiment", experiment, "--data-only", "--data", d.Path, "--output", Path.Combine(d.Path, "out"));
        Assert.DoesNotContain("does not apply", stdout + stderr);
    }
}
