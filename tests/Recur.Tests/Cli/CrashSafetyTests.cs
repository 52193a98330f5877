using System.Text;
using Recur.IO;
using Recur.Tensors;

namespace Recur.Tests.Cli;

/// <summary>
/// Training killed with SIGKILL at many random moments, some of them inside checkpoint writes: after every kill the
/// last checkpoint loads and the run continues; the finished model file is byte-identical to an uninterrupted run's;
/// no temporary file is left behind.
/// </summary>
public sealed class CrashSafetyTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recur-crash-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task TwentyKillsThenResumeGiveTheUninterruptedModel()
    {
        var ct = TestContext.Current.CancellationToken;
        var text = new StringBuilder();
        for (int i = 0; i < 200; i++) text.Append("to be or not to be, ");
        string data = Path.Combine(dir, "text.txt");
        File.WriteAllText(data, text.ToString());
        string[] config = ["train", "--task", "lm", "--data", data, "--epochs", "20", "--hidden", "24", "--layers", "2", "--dropout", "0.1",
                           "--bptt", "20", "--batch-size", "8", "--checkpoint-every", "1", "--log-every", "5"];

        string reference = Path.Combine(dir, "reference");
        var (code, stdout, stderr) = await CliRunner.Run([.. config, "--output", reference]);
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");

        string run = Path.Combine(dir, "killed");
        var rng = new Rng(2026);
        int kills = 0, killsInsideWrites = 0, lives = 0;
        bool finished = false;
        while (!finished)
        {
            Assert.True(++lives < 200, "the run never finished");
            // A life killed before the first checkpoint leaves nothing to resume: the next one starts over.
            bool resume = File.Exists(Path.Combine(run, "checkpoint.ckpt"));
            // Widen the checkpoint-write window (and so slow the killed lives: each checkpointed step takes >= 60 ms, so 20
            // lives cannot finish the run); the last life runs at full speed. The delay changes timing, never results.
            var env = new Dictionary<string, string?> { ["RECUR_FAULT_WRITE_DELAY_MS"] = kills < 20 ? "60" : null };
            using var p = CliRunner.Start(resume ? ["train", "--output", run, "--resume"] : [.. config, "--output", run, "--start-over"], env);
            // Training starts right after the configuration is printed: most kills are timed from there, so the test
            // does not depend on how long the process takes to start; every fourth is timed from the start instead.
            var training = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var output = new StringBuilder();
            var outTask = Task.Run(async () =>
            {
                while (await p.StandardOutput.ReadLineAsync(ct) is { } line)
                {
                    output.AppendLine(line);
                    if (line.Contains("configuration (saved to", StringComparison.Ordinal)) training.TrySetResult();
                }
                training.TrySetResult();
            }, ct);
            var errTask = p.StandardError.ReadToEndAsync(ct);
            if (kills < 20)
            {
                bool fromStart = kills % 4 == 3;
                if (!fromStart) await training.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
                int delay = fromStart ? 100 + (int)(rng.NextUInt64() % 1200) : (int)(rng.NextUInt64() % 700);
                var exited = p.WaitForExitAsync(ct);
                if (await Task.WhenAny(exited, Task.Delay(delay, ct)) != exited)
                {
                    p.Kill(); // SIGKILL
                    await p.WaitForExitAsync(ct);
                    kills++;
                    if (Directory.Exists(run) && Directory.GetFiles(run, "*" + AtomicFile.TempSuffix).Length > 0) killsInsideWrites++;
                    // The last checkpoint (if one was written yet) is complete and loads.
                    string ckpt = Path.Combine(run, "checkpoint.ckpt");
                    if (File.Exists(ckpt)) Assert.Equal("recur-checkpoint", SafeTensorsFile.Load(ckpt).Metadata["format"]);
                    continue;
                }
            }
            await p.WaitForExitAsync(ct);
            await outTask;
            Assert.True(p.ExitCode == 0, $"life {lives} exit {p.ExitCode}\n{output}\n{await errTask}");
            finished = true;
        }
        Assert.Equal(20, kills);
        Assert.True(killsInsideWrites >= 1, $"none of the {kills} kills landed inside a checkpoint write; the test did not exercise that case");
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "model.recur")), File.ReadAllBytes(Path.Combine(run, "model.recur")));
        Assert.Empty(Directory.GetFiles(run, "*" + AtomicFile.TempSuffix));
        Assert.False(File.Exists(Path.Combine(run, "checkpoint.ckpt")));
        TestContext.Current.SendDiagnosticMessage($"{kills} SIGKILLs ({killsInsideWrites} inside checkpoint writes), {lives} lives");
    }
}
