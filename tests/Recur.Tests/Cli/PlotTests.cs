using Recur.Tests.Data;

namespace Recur.Tests.Cli;

public class PlotTests
{
    [Fact]
    public async Task Plot_draws_a_csv_of_curves_as_a_png()
    {
        using var dir = new TempDir();
        string csv = dir.File("curves.csv", "step,train,valid\n1,2.5,2.7\n2,1.5,\n3,1.0,1.9\n4,NaN,1.8\n");
        var (code, stdout, stderr) = await CliRunner.Run("plot", csv, "--log-y", "--title", "loss");
        Assert.True(code == 0, stderr);
        string png = Path.ChangeExtension(csv, ".png");
        Assert.Contains(png, stdout);
        var bytes = File.ReadAllBytes(png);
        Assert.True(bytes.Length > 1000, $"PNG of {bytes.Length} bytes");
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
        Assert.Empty(Directory.GetFiles(dir.Path, "*.tmp*")); // written through a temporary file, then renamed
    }

    [Fact]
    public async Task A_bad_cell_is_reported_with_file_line_and_column()
    {
        using var dir = new TempDir();
        string csv = dir.File("bad.csv", "step,loss\n1,0.5\n2,abc\n");
        var (code, _, stderr) = await CliRunner.Run("plot", csv);
        Assert.Equal(1, code);
        Assert.Contains("bad.csv line 3 column 'loss': expected a number, found 'abc'", stderr);
        Assert.DoesNotContain("   at ", stderr); // no stack trace
    }
}
