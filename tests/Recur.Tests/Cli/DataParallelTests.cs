using System.Diagnostics;
using System.Globalization;
using System.Text;
using Recur.IO;
using Recur.Tests.Data;

namespace Recur.Tests.Cli;

/// <summary>
/// <c>mpirun -np N recur train</c> on loopback (issue 16): an N-rank run equals the one-process run with the same global
/// batch, also through a kill and a resume with another N; a rank that fails or hangs stops every rank with a message
/// naming it. Needs Open MPI's mpirun (Debian: openmpi-bin; .ci/run installs it) and skips visibly without it.
/// </summary>
public class DataParallelTests
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static string? MpiRun => new[] { "/usr/bin/mpirun", "/usr/local/bin/mpirun" }.FirstOrDefault(File.Exists);

    private static void NeedMpi()
    {
        if (MpiRun is null) Assert.Skip("mpirun is absent (Debian: apt-get install openmpi-bin; .ci/run installs it): the data-parallel tests run where Open MPI is");
    }

    /// <summary>Runs mpirun with one or more app contexts (each: ranks, extra environment, recur arguments).</summary>
    private static async Task<(int ExitCode, string Output, TimeSpan Took)> Mpi(params (int Ranks, string? Env, string[] Args)[] apps)
    {
        var psi = new ProcessStartInfo(MpiRun!) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // Root in CI containers; loopback ranks on a machine with fewer cores than ranks.
        foreach (var a in new[] { "--allow-run-as-root", "--oversubscribe", "--bind-to", "none" }) psi.ArgumentList.Add(a);
        for (int i = 0; i < apps.Length; i++)
        {
            if (i > 0) psi.ArgumentList.Add(":");
            psi.ArgumentList.Add("-np");
            psi.ArgumentList.Add(apps[i].Ranks.ToString(Inv));
            if (apps[i].Env is { } env) { psi.ArgumentList.Add("-x"); psi.ArgumentList.Add(env); }
            psi.ArgumentList.Add("dotnet");
            psi.ArgumentList.Add(CliRunner.Dll);
            foreach (var a in apps[i].Args) psi.ArgumentList.Add(a);
        }
        psi.Environment["CI"] = "true";
        var clock = Stopwatch.StartNew();
        using var p = Process.Start(psi)!;
        var ct = TestContext.Current.CancellationToken;
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(2));
        try { await p.WaitForExitAsync(timeout.Token); }
        catch (OperationCanceledException) { p.Kill(entireProcessTree: true); throw; }
        return (p.ExitCode, await stdout + await stderr, clock.Elapsed);
    }

    private static string Classification(TempDir dir)
    {
        var rng = new Random(7);
        string[] pos = ["good", "great", "fine", "nice", "love"], neg = ["bad", "awful", "poor", "hate", "sad"], fill = ["the", "a", "movie", "film", "it", "was", "plot", "very"];
        var sb = new StringBuilder("text\tlabel\n");
        for (int i = 0; i < 101; i++)  // about 91 for training: batches of 8 and a last, shorter one that the ranks split unevenly
        {
            bool p = rng.Next(2) == 0;
            var words = Enumerable.Range(0, rng.Next(3, 12)).Select(_ => fill[rng.Next(fill.Length)]).ToList();
            words.Insert(rng.Next(words.Count + 1), (p ? pos : neg)[rng.Next(5)]);
            sb.Append(string.Join(' ', words)).Append('\t').Append(p ? "pos" : "neg").Append('\n');
        }
        return dir.File("reviews.tsv", sb.ToString());
    }

    private static string Text(TempDir dir)
    {
        var rng = new Random(3);
        string[] words = ["to", "be", "or", "not", "that", "is", "the", "question", "whether", "tis", "nobler", "in", "mind"];
        var sb = new StringBuilder();
        while (sb.Length < 6000) sb.Append(words[rng.Next(words.Length)]).Append(rng.Next(8) == 0 ? ".\n" : " ");
        return dir.File("text.txt", sb.ToString());
    }

    /// <summary>Every parameter of two model files agrees to <paramref name="relative"/> (||a-b|| / ||a|| per tensor); returns whether all are bit-identical.</summary>
    private static bool SameParameters(string a, string b, double relative)
    {
        var pa = ModelFile.Load(a).Model.NamedParameters().ToList();
        var pb = ModelFile.Load(b).Model.NamedParameters().ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Equal(pa.Count, pb.Count);
        bool bitwise = true;
        foreach (var (name, p) in pa)
        {
            var x = p.Value.Span.ToArray();
            var y = pb[name].Value.Span.ToArray();
            Assert.Equal(x.Length, y.Length);
            double diff = 0, norm = 0;
            for (int i = 0; i < x.Length; i++) { diff += Math.Pow(x[i] - (double)y[i], 2); norm += (double)x[i] * x[i]; bitwise &= BitConverter.SingleToInt32Bits(x[i]) == BitConverter.SingleToInt32Bits(y[i]); }
            Assert.True(Math.Sqrt(diff) <= relative * Math.Sqrt(norm), $"{name}: ||a-b|| = {Math.Sqrt(diff):G3}, ||a|| = {Math.Sqrt(norm):G3}: more than {relative} relative");
        }
        return bitwise;
    }

    /// <summary>--bucket-mb for buckets of about 100 bytes: every parameter of the test models closes one.</summary>
    private const string TinyBuckets = "0.0001";

    private static string[] Train(string task, string data, string output, params string[] more) =>
        ["train", "--task", task, "--data", data, "--output", output, "--seed", "5", "--hidden", "12", "--embedding", "8", "--dropout", "0", "--log-every", "5", .. more];

    [Fact]
    public async Task A_classifier_trained_by_2_and_3_ranks_equals_the_one_process_run()
    {
        NeedMpi();
        using var dir = new TempDir();
        string data = Classification(dir);
        string[] opts = ["--epochs", "3", "--batch-size", "8"];
        var one = await CliRunner.Run(Train("classify", data, Path.Combine(dir.Path, "one"), opts));
        Assert.True(one.ExitCode == 0, one.Stderr);
        // With gradient buckets of 100 bytes (about one per parameter), so that most sums start during backward.
        foreach (int n in new[] { 2, 3 })
        {
            string output = Path.Combine(dir.Path, $"ranks{n}");
            var run = await Mpi((n, null, Train("classify", data, output, [.. opts, "--bucket-mb", TinyBuckets])));
            Assert.True(run.ExitCode == 0, run.Output);
            // 36 optimizer steps of Adam (12 batches an epoch, 3 epochs): every parameter within 1e-6 of the one-process run's.
            bool bitwise = SameParameters(Path.Combine(dir.Path, "one", "model.recur"), Path.Combine(output, "model.recur"), 1e-6);
            TestContext.Current.TestOutputHelper?.WriteLine($"{n} ranks: parameters {(bitwise ? "bit-identical to" : "within 1e-6 of, not bit-identical to,")} the one-process run's");
            // Rank 0 alone prints the summary; the others print nothing.
            Assert.Equal(1, run.Output.Split('\n').Count(l => l.StartsWith("classify: 36 steps in 3 epochs", StringComparison.Ordinal)));
            Assert.Contains("classify: 36 steps in 3 epochs", one.Stdout);
        }
    }

    [Fact]
    public async Task A_language_model_killed_under_2_ranks_and_resumed_under_3_equals_the_one_process_run()
    {
        NeedMpi();
        using var dir = new TempDir();
        string data = Text(dir), run = Path.Combine(dir.Path, "run");
        // 6 streams of ~900 tokens in chunks of 20: 45 chunks an epoch, 90 steps; checkpoints every 20 steps.
        string[] opts = ["--epochs", "2", "--batch-size", "6", "--bptt", "20", "--tokenizer", "char", "--checkpoint-every", "20"];
        var one = await CliRunner.Run(Train("lm", data, Path.Combine(dir.Path, "one"), opts));
        Assert.True(one.ExitCode == 0, one.Stderr);

        // Every rank is killed at its 55th batch (step 55, in the second epoch): the job ends with mpirun naming a rank
        // killed by a signal, and the checkpoint of step 40 stays.
        var killed = await Mpi((2, "RECUR_FAULT_RANK_KILL_AT_BATCH=55", Train("lm", data, run, [.. opts, "--bucket-mb", TinyBuckets])));
        Assert.NotEqual(0, killed.ExitCode);
        Assert.Matches(@"process rank \d with PID \d+ on node \S+ exited on signal 9", killed.Output);
        Assert.True(File.Exists(Path.Combine(run, "checkpoint.ckpt")), killed.Output);
        Assert.False(File.Exists(Path.Combine(run, "model.recur")));

        // Resumed with 3 ranks: the checkpoint holds the whole batch's carried state, so any number of ranks continues it.
        var resumed = await Mpi((3, null, ["train", "--output", run, "--resume"]));
        Assert.True(resumed.ExitCode == 0, resumed.Output);
        Assert.Contains("resumed from", resumed.Output);
        SameParameters(Path.Combine(dir.Path, "one", "model.recur"), Path.Combine(run, "model.recur"), 1e-6);
    }

    [Fact]
    public async Task Gradient_buckets_leave_a_2_rank_run_bit_identical_to_one_sum_after_backward_also_with_tied_embeddings()
    {
        NeedMpi();
        using var dir = new TempDir();
        string data = Text(dir);
        // Tied embeddings: the shared matrix hears two contributions per backward pass (output layer, then embedding).
        string[] opts = ["--epochs", "1", "--batch-size", "6", "--bptt", "20", "--tokenizer", "char", "--tie-embeddings", "true"];
        string[] Tied(string output, params string[] more)
        {
            var args = Train("lm", data, output, [.. opts, .. more]);
            args[Array.IndexOf(args, "--embedding") + 1] = "12"; // equal to --hidden
            return args;
        }
        var one = await CliRunner.Run(Tied(Path.Combine(dir.Path, "one")));
        Assert.True(one.ExitCode == 0, one.Stderr);
        foreach (string mb in new[] { "0", TinyBuckets })
        {
            var run = await Mpi((2, null, Tied(Path.Combine(dir.Path, "mb" + mb), "--bucket-mb", mb)));
            Assert.True(run.ExitCode == 0, run.Output);
            SameParameters(Path.Combine(dir.Path, "one", "model.recur"), Path.Combine(dir.Path, "mb" + mb, "model.recur"), 1e-6);
        }
        // Two ranks: each element's sum is a + b in either order, whatever the message size, so buckets change no bit.
        Assert.True(SameParameters(Path.Combine(dir.Path, "mb0", "model.recur"), Path.Combine(dir.Path, "mb" + TinyBuckets, "model.recur"), 0));
        var metrics = File.ReadAllText(Path.Combine(dir.Path, "mb" + TinyBuckets, "metrics.json"));
        Assert.Contains("\"step_seconds\"", metrics);
        Assert.Contains("\"collective_wait_seconds\"", metrics);
    }

    [Fact]
    public async Task A_bucket_size_outside_a_data_parallel_run_is_an_error()
    {
        using var dir = new TempDir();
        var (code, _, err) = await CliRunner.Run(Train("classify", Classification(dir), Path.Combine(dir.Path, "run"), "--epochs", "1", "--bucket-mb", "1"));
        Assert.Equal(1, code);
        Assert.Contains("--bucket-mb", err);
    }

    [Fact]
    public async Task A_rank_that_cannot_read_its_data_stops_every_rank_with_a_message_naming_it()
    {
        NeedMpi();
        using var dir = new TempDir();
        string data = Classification(dir), output = Path.Combine(dir.Path, "run"), missing = Path.Combine(dir.Path, "missing.tsv");
        var run = await Mpi((1, null, Train("classify", data, output, "--epochs", "2")), (1, null, Train("classify", missing, output, "--epochs", "2")));
        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains($"recur: error (rank 1 of 2): {missing}: file not found", run.Output);
        Assert.True(run.Took < TimeSpan.FromSeconds(60), $"took {run.Took}");
    }

    [Fact]
    public async Task A_hung_rank_stops_every_rank_at_the_collective_timeout_and_the_checkpoint_stays()
    {
        NeedMpi();
        using var dir = new TempDir();
        string data = Classification(dir), output = Path.Combine(dir.Path, "run");
        string[] args = Train("classify", data, output, "--epochs", "3", "--batch-size", "8", "--checkpoint-every", "5", "--collective-timeout", "2",
            "--bucket-mb", TinyBuckets);
        // Rank 1 stops responding at its 20th batch (epoch 2): rank 0 has started its buckets' sums during backward, waits
        // 2 s for them, then ends the job.
        var run = await Mpi((1, null, args), (1, "RECUR_FAULT_RANK_HANG_AT_BATCH=20", args));
        Assert.Equal(3, run.ExitCode);
        Assert.Contains("recur: error (rank 0 of 2): the gradient sum did not complete within 2 s", run.Output);
        // The step-15 checkpoint is whole: a one-process resume continues it to the end.
        var resumed = await CliRunner.Run(["train", "--output", output, "--resume"]);
        Assert.True(resumed.ExitCode == 0, resumed.Stderr);
        Assert.Contains("at epoch 2, step 15", resumed.Stdout);
    }

    [Fact]
    public async Task A_launch_without_a_loadable_MPI_library_is_a_clear_error()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string?> { ["OMPI_COMM_WORLD_SIZE"] = "2", ["RECUR_MPI_LIBRARY"] = Path.Combine(dir.Path, "libmpi.so.40") };
        var (code, _, err) = await CliRunner.Run(Train("classify", Classification(dir), Path.Combine(dir.Path, "run"), "--epochs", "1"), env);
        Assert.Equal(1, code);
        Assert.Contains("started by an MPI launcher, but the MPI library could not be loaded", err);
        Assert.Contains("apt-get install openmpi-bin", err);
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "run")));
    }

    [Fact]
    public async Task A_task_whose_batches_are_not_split_refuses_several_ranks()
    {
        using var dir = new TempDir();
        var env = new Dictionary<string, string?> { ["OMPI_COMM_WORLD_SIZE"] = "3" };
        string conll = dir.File("t.conll", "a X\nb Y\n\nb Y\na X\n");
        var (code, _, err) = await CliRunner.Run(["train", "--task", "tag", "--data", conll, "--output", Path.Combine(dir.Path, "run")], env);
        Assert.Equal(1, code);
        Assert.Contains("--task tag: data-parallel training over MPI (3 ranks) splits the batches of classify and lm only", err);
    }
}
