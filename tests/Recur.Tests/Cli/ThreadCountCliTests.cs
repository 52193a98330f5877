using System.Text;
using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary>
/// `recur train` writes the same model file whatever RECUR_NUM_THREADS says, at a size that takes every parallel
/// path of the engine: hidden 512, two bidirectional layers, variable lengths (full steps take the column-split
/// product, the short tail of running rows parallel row blocks), dropout, gradient clipping (the global norm) and
/// the loss sums over a batch.
/// </summary>
public sealed class ThreadCountCliTests
{
    [Fact]
    public async Task OneAndTwoThreadsWriteTheSameModelFile()
    {
        using var dir = new TempDir();
        string[] words = ["good", "bad", "food", "service", "slow", "great", "cold", "nice", "awful", "fine", "the", "was"];
        var sb = new StringBuilder();
        for (int i = 0; i < 96; i++)
        {
            int len = 1 + (i * 5 + 3) % 12;     // 1..12 words: the running rows shrink step by step
            for (int w = 0; w < len; w++) sb.Append(w == 0 ? "" : " ").Append(words[(i * 7 + w * 3) % words.Length]);
            sb.Append(i % 3 == 0 ? "\tneg\n" : "\tpos\n");
        }
        string data = dir.File("cls.tsv", sb.ToString());
        string[] common = ["train", "--task", "classify", "--data", data, "--hidden", "512", "--embedding", "48", "--layers", "2",
            "--bidirectional", "true", "--dropout", "0.2", "--clip-norm", "1", "--batch-size", "16", "--epochs", "1", "--max-steps", "4",
            "--seed", "3"];
        async Task<byte[]> Train(string threads)
        {
            string output = Path.Combine(dir.Path, "t" + threads);
            var (code, stdout, stderr) = await CliRunner.Run([.. common, "--output", output],
                new Dictionary<string, string?> { ["RECUR_NUM_THREADS"] = threads });
            Assert.True(code == 0, stdout + stderr);
            return File.ReadAllBytes(Path.Combine(output, "model.recur"));
        }
        byte[] one = await Train("1");
        Assert.Equal(one, await Train("2"));
    }
}
