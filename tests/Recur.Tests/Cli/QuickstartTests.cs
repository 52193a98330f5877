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
            var st = SafeTensorsFile.Load(Path.Combine(dir, "model.safetensors"));
            Assert.Contains("lstm.weight_hh_l0", st.Names);
            Assert.Contains("head.weight", st.Names);
            Assert.Equal("quickstart-marker-memory", st.Metadata["task"]);
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
