using System.Globalization;
using System.Text;

namespace Recur.Tests.Cli;

/// <summary>
/// `recur train` draws ||dLoss/dh_t|| per time step of one training batch at initialisation and after training: the
/// curve at initialisation is kept as CSV in the run folder, both are drawn in gradient-flow.png and the report.
/// </summary>
public sealed class GradientFlowOutputTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recur-flow-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task TrainWritesTheGradientFlowOfTheFirstLayerAtInitialisationAndAfterTraining()
    {
        var sb = new StringBuilder("text\tlabel\n");
        string[] words = ["the", "food", "was", "really", "service", "great", "awful"];
        for (int i = 0; i < 40; i++)
        {
            int n = 3 + i % 5;   // lengths 3..7: the probe batch's longest sequence has 7 steps
            sb.Append(string.Join(' ', Enumerable.Range(0, n).Select(k => words[(i * 3 + k) % 5]))).Append(i % 2 == 0 ? " great" : " awful");
            sb.Append(i % 2 == 0 ? "\tpos\n" : "\tneg\n");
        }
        string data = Path.Combine(dir, "cls.tsv");
        File.WriteAllText(data, sb.ToString(), new UTF8Encoding(false));
        string run = Path.Combine(dir, "run");
        var (code, stdout, stderr) = await CliRunner.Run("train", "--task", "classify", "--epochs", "1", "--hidden", "8", "--embedding", "8",
            "--data", data, "--text-column", "text", "--label-column", "label", "--output", run);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");

        var lines = File.ReadAllLines(Path.Combine(run, "gradient-flow-init.csv"));
        Assert.Equal("t,grad_norm", lines[0]);
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToList();
        Assert.Equal(Enumerable.Range(0, rows.Count).Select(t => t.ToString(CultureInfo.InvariantCulture)), rows.Select(r => r[0]));
        Assert.InRange(rows.Count, 4, 8);   // the longest sequence of the probe batch, tokens and all
        var norms = rows.Select(r => double.Parse(r[1], CultureInfo.InvariantCulture)).ToList();
        Assert.All(norms, v => Assert.True(double.IsFinite(v) && v >= 0, $"||dL/dh_t|| = {v}"));
        Assert.Contains(norms, v => v > 0);
        Assert.True(File.Exists(Path.Combine(run, "gradient-flow.png")), "gradient-flow.png missing");
        Assert.Contains("Gradient flow", File.ReadAllText(Path.Combine(run, "report.html")));
    }
}
