using System.Globalization;
using System.Text;
using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary>
/// What `recur predict`, `export` and `inspect` tell a user about their input: errors name the input file, a model kind
/// with no ONNX form gets one line, a tagger flags words it never saw, a forecast says which step (or date) each value
/// is for, inspect shows the task's own options, and classify reads a `sentence TAB label` first row as a header.
/// </summary>
public class PredictionMessageTests
{
    private static async Task<string> Train(TempDir d, string name, params string[] args)
    {
        string run = Path.Combine(d.Path, name);
        string task = args[Array.IndexOf(args, "--task") + 1];
        var (code, stdout, stderr) = await CliRunner.Run(["train", "--epochs", "1", .. CliRunner.Sizes(task, 4), "--output", run, .. args]);
        Assert.True(code == 0, stdout + stderr);
        return Path.Combine(run, "model.recur");
    }

    private static string Reviews(int n, string? header = null)
    {
        var sb = new StringBuilder(header is null ? "" : header + "\n");
        for (int i = 0; i < n; i++) sb.Append(i % 2 == 0 ? $"good tasty food {i % 3}\tpos\n" : $"bad cold food {i % 3}\tneg\n");
        return sb.ToString();
    }

    [Fact]
    public async Task Predict_errors_name_the_input_file_and_inspect_shows_the_tasks_own_options()
    {
        using var d = new TempDir();
        string model = await Train(d, "c", "--task", "classify", "--data", d.File("s.tsv", Reviews(20)));
        string input = d.File("in.txt", "good food\none two three four five\n");
        var (code, _, stderr) = await CliRunner.Run("predict", "--model", model, "--input", input, "--max-length", "3");
        Assert.Equal(1, code);
        Assert.Contains($"recur: error: {input}: line 2: expected at most 3 tokens (--max-length), found 5", stderr);
        Assert.DoesNotContain("input: line", stderr);

        var (code2, stdout, _) = await CliRunner.Run("inspect", model);
        Assert.Equal(0, code2);
        Assert.Contains("config.text-column", stdout);
        Assert.Contains("config.hidden", stdout);
        foreach (string other in new[] { "config.window", "config.mfcc", "config.beam", "config.mlp-hidden", "config.bptt" }) Assert.DoesNotContain(other, stdout);
        // The model stores only its task's options; a file of an older Recur, which stored every option, shows the same.
        Assert.DoesNotContain("options of other tasks not shown", stdout);
        var (code3, old, _) = await CliRunner.Run("inspect", Path.Combine(Support.Repo.Root, "tests", "fixtures", "model-files-v1", "classify.recur"));
        Assert.Equal(0, code3);
        Assert.Contains("config.text-column", old);
        Assert.DoesNotContain("config.bptt", old);
        Assert.Contains("options of other tasks not shown", old);
    }

    [Fact]
    public async Task Export_of_a_kind_with_no_onnx_form_is_one_line_naming_the_file_and_the_kinds_that_have_one()
    {
        using var d = new TempDir();
        var sb = new StringBuilder("a,b,label\n");
        for (int i = 0; i < 20; i++) sb.Append(CultureInfo.InvariantCulture, $"{i % 7},{i % 3},{(i % 2 == 0 ? "x" : "y")}\n");
        string model = await Train(d, "m", "--task", "mlp", "--data", d.File("m.csv", sb.ToString()), "--mlp-hidden", "3");
        string onnx = Path.Combine(d.Path, "m.onnx");
        var (code, _, stderr) = await CliRunner.Run("export", model, "--onnx", onnx);
        Assert.Equal(1, code);
        Assert.Contains($"recur: error: {model}: model.kind: expected a model kind with an ONNX form (classifier, tagger, language_model, recurrent, sequence_regressor), found 'mlp'", stderr);
        Assert.DoesNotContain("Parameter", stderr);
        Assert.False(File.Exists(onnx));
    }

    [Fact]
    public async Task A_tagger_flags_words_it_never_saw()
    {
        using var d = new TempDir();
        var sb = new StringBuilder();
        for (int i = 0; i < 10; i++) sb.Append(i % 2 == 0 ? "the DET\ndog NOUN\nruns VERB\n\n" : "a DET\ncat NOUN\nsleeps VERB\n\n");
        string model = await Train(d, "t", "--task", "tag", "--data", d.File("t.conll", sb.ToString()));
        string input = d.File("in.txt", "the zebra runs\n");
        var (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", input);
        Assert.True(code == 0, stderr);
        var words = stdout.Trim().Split(' ');
        Assert.Equal(3, words.Length);
        Assert.StartsWith("the/", words[0]);
        Assert.DoesNotContain("?", words[0]);
        Assert.StartsWith("zebra/", words[1]);
        Assert.EndsWith("?", words[1]);
        Assert.DoesNotContain("?", words[2]);

        (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", input, "--format", "jsonl");
        Assert.True(code == 0, stderr);
        Assert.Contains("\"unknown\":[false,true,false]", stdout);
    }

    [Fact]
    public async Task A_forecast_prints_the_step_or_date_of_each_value()
    {
        using var d = new TempDir();
        var dated = new StringBuilder("date,value\n");
        var plain = new StringBuilder("value\n");
        var monthly = new StringBuilder("\"Month\",\"value\"\n"); // as airline-passengers.csv writes its months
        var start = new DateTime(2024, 1, 1);
        for (int i = 0; i < 40; i++)
        {
            string v = (5 + 2 * Math.Sin(i * 0.7)).ToString("F3", CultureInfo.InvariantCulture);
            dated.Append(CultureInfo.InvariantCulture, $"{start.AddDays(i):yyyy-MM-dd},{v}\n");
            plain.Append(CultureInfo.InvariantCulture, $"{v}\n");
            monthly.Append(CultureInfo.InvariantCulture, $"\"{start.AddMonths(i):yyyy-MM}\",{v}\n");
        }
        string model = await Train(d, "f", "--task", "forecast", "--data", d.File("f.csv", dated.ToString()), "--window", "4", "--horizon", "2", "--test-fraction", "0.2");

        var (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", d.File("dated.csv", dated.ToString()));
        Assert.True(code == 0, stderr);
        var lines = stdout.Trim().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.Equal(2, lines.Length);
        Assert.StartsWith("2024-02-10\t", lines[0]); // 2024-01-01 + 40 days
        Assert.StartsWith("2024-02-11\t", lines[1]);

        (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", d.File("plain.csv", plain.ToString()));
        Assert.True(code == 0, stderr);
        lines = stdout.Trim().Split('\n').Select(l => l.TrimEnd('\r')).ToArray();
        Assert.StartsWith("step 41\t", lines[0]);
        Assert.StartsWith("step 42\t", lines[1]);

        (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", d.File("monthly.csv", monthly.ToString()));
        Assert.True(code == 0, stderr);
        Assert.StartsWith("2027-05\t", stdout); // 2024-01 + 40 months, in the series' own form

        (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", d.File("dated2.csv", dated.ToString()), "--format", "jsonl");
        Assert.True(code == 0, stderr);
        Assert.Contains("\"steps\":[41,42],\"dates\":[\"2024-02-10\",\"2024-02-11\"]", stdout);
    }

    [Fact]
    public async Task Classify_reads_a_column_name_first_row_as_a_header_and_a_header_only_file_says_so()
    {
        using var d = new TempDir();
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", d.File("h.tsv", "sentence\tlabel\n"), "--output", Path.Combine(d.Path, "h"));
        Assert.Equal(1, code);
        Assert.Contains("h.tsv: line 2: expected data rows after the header, found only the header", stderr);
        Assert.DoesNotContain("labels", stderr);

        (code, stdout, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", d.File("s.tsv", Reviews(20, "sentence\tlabel")),
            "--output", Path.Combine(d.Path, "s"), "--epochs", "1", "--hidden", "4", "--embedding", "4");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("2 labels", stdout);
        Assert.Contains("line 1 ('sentence', 'label') is read as a header", stderr);

        // A first row whose label other rows share is data.
        (code, stdout, stderr) = await CliRunner.Run("train", "--task", "classify", "--data", d.File("r.tsv", Reviews(20)),
            "--output", Path.Combine(d.Path, "r"), "--epochs", "1", "--hidden", "4", "--embedding", "4");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("18 training / 2 validation examples", stdout);
        Assert.DoesNotContain("read as a header", stderr);
    }
}
