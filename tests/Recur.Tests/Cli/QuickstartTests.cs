using System.Globalization;
using System.Text.RegularExpressions;
using Recur.IO;

namespace Recur.Tests.Cli;

public class QuickstartTests
{
    [Fact]
    public async Task QuickstartTrainsReportsAndSavesALoadableModel()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"recur-qs-{Guid.NewGuid():N}");
        try
        {
            var (code, stdout, stderr) = await CliRunner.Run("quickstart", "--steps", "200", "--output", dir);
            Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
            Assert.Contains("config: steps=200", stdout);
            var acc = Regex.Match(stdout, @"held-out accuracy: ([0-9.]+)%");
            Assert.True(acc.Success, stdout);
            Assert.True(double.Parse(acc.Groups[1].Value, CultureInfo.InvariantCulture) >= 90, $"the model should learn the task:\n{stdout}");
            var bundle = ModelFile.Load(Path.Combine(dir, "model.recur"));
            var model = Assert.IsType<Recur.Models.SequenceClassifier>(bundle.Model);
            Assert.Equal(["none", "A", "B"], bundle.Labels);
            Assert.Equal("quickstart-marker-memory", bundle.Metadata["task"]);
            Assert.Equal(8, model.Config.Encoder.InputFeatures);
            // The file holds the trained weights: on 12 new sequences (marker A, B or none at various steps among
            // the filler symbols 2..7) the loaded classifier is right at least 10 times.
            const int T = 16;
            var x = new Recur.Tensors.Tensor(12, T, 8);
            var truth = new int[12];
            for (int b = 0; b < 12; b++)
            {
                truth[b] = b % 3;
                for (int t = 0; t < T; t++) x.Span[(b * T + t) * 8 + 2 + (b + 3 * t) % 6] = 1f;
                if (truth[b] != 0)
                {
                    int at = (b * 5) % T;
                    x.Span.Slice((b * T + at) * 8, 8).Clear();
                    x.Span[(b * T + at) * 8 + truth[b] - 1] = 1f;
                }
            }
            var probs = model.Predict(new Recur.Models.SequenceBatch { Features = x, Lengths = Enumerable.Repeat(T, 12).ToArray(), Steps = T });
            int right = Enumerable.Range(0, 12).Count(b => TensorPrimitives.IndexOfMax(probs.Span.Slice(b * 3, 3)) == truth[b]);
            Assert.True(right >= 10, $"the saved model got {right}/12 right");
        }
        finally
        {
            if (Directory.Exists(dir)) Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task BadOptionValuesGetAClearError()
    {
        var (code, _, stderr) = await CliRunner.Run("quickstart", "--steps", "0");
        Assert.Equal(2, code);
        Assert.Contains("--steps", stderr);
    }
}
