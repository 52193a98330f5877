using System.Text;
using System.Text.Json;
using Recur.IO;
using Recur.Models;
using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary>
/// `--proj-size P` (an LSTM with a projection, PyTorch's proj_size): trains, is kept in the model file and shown by
/// `inspect` with the projected shapes, is refused by `export --onnx` with a message naming it, and is an error with a
/// cell that has no projection or with P not below --hidden.
/// </summary>
public class ProjectionCliTests
{
    private static string Reviews(TempDir d, int n)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++) sb.Append(i % 2 == 0 ? $"good tasty food {i % 5}\tpos\n" : $"bad cold food {i % 5}\tneg\n");
        return d.File("reviews.tsv", sb.ToString());
    }

    private static string[] Classify(string data, string run, params string[] more) =>
        ["train", "--task", "classify", "--data", data, "--hidden", "8", "--embedding", "8", "--batch-size", "4", "--epochs", "1", "--output", run, .. more];

    [Fact]
    public async Task A_projected_bidirectional_lstm_trains_and_inspect_shows_proj_size_and_the_projected_shapes()
    {
        using var d = new TempDir();
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run(Classify(Reviews(d, 24), run, "--proj-size", "3", "--bidirectional", "true", "--layers", "2"));
        Assert.True(code == 0, stdout + stderr);
        Assert.Matches(@"\n  proj-size +3\r?\n", stdout);
        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "config.json"))))
            Assert.Equal("3", config.RootElement.GetProperty("proj-size").GetString());

        string model = Path.Combine(run, "model.recur");
        var clf = Assert.IsType<SequenceClassifier>(ModelFile.Load(model).Model);
        Assert.Equal(3, clf.Encoder.Rnn.ProjSize);
        Assert.Equal(6, clf.Head.InFeatures);

        (code, stdout, stderr) = await CliRunner.Run("inspect", model);
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("LSTM 8, proj_size 3", stdout, StringComparison.OrdinalIgnoreCase);
        Assert.Matches(@"encoder\.rnn\.weight_hr_l0 +\(3, 8\)", stdout);
        Assert.Matches(@"encoder\.rnn\.weight_hh_l1_reverse +\(32, 3\)", stdout);
        Assert.Matches(@"encoder\.rnn\.weight_ih_l1 +\(32, 6\)", stdout);

        string onnx = Path.Combine(d.Path, "m.onnx");
        (code, stdout, stderr) = await CliRunner.Run("export", model, "--onnx", onnx);
        Assert.Equal(1, code);
        Assert.Contains("proj_size 3", stderr);
        Assert.False(File.Exists(onnx));
    }

    [Theory]
    [InlineData("--cell gru --proj-size 4", "--proj-size: takes effect only with --cell lstm")]
    [InlineData("--proj-size 8", "--proj-size: expected 0 or fewer units than --hidden (8), found 8")]
    [InlineData("--proj-size -1", "--proj-size: expected an integer in [0, ")]
    public async Task A_projection_the_model_cannot_have_is_an_error_naming_the_option(string options, string message)
    {
        using var d = new TempDir();
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run(Classify(Reviews(d, 24), run, options.Split(' ')));
        Assert.True(code == 1, stdout + stderr);
        Assert.Contains(message, stderr);
    }

    [Fact]
    public async Task Proj_size_does_not_apply_to_tasks_whose_model_has_no_lstm_encoder()
    {
        using var d = new TempDir();
        string run = Path.Combine(d.Path, "run");
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "forecast", "--data", d.File("s.csv", "1\n2\n"), "--output", run, "--proj-size", "2");
        Assert.True(code == 1, stdout + stderr);
        Assert.Contains("--proj-size: does not apply to --task forecast", stderr);
    }
}
