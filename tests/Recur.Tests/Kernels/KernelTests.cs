using System.Diagnostics;
using System.Text.Json;
using Recur.KernelCheck;
using Recur.Kernels;
using Recur.Kernels.Reference;
using Recur.Tensors;
using Recur.Tests.Support;

namespace Recur.Tests.Kernels;

/// <summary>Every fast kernel against its naive twin, at every vector width, in this process.</summary>
public class KernelTwinTests
{
    public static TheoryData<SimdWidth> Widths() => [SimdWidth.Scalar, SimdWidth.V128, SimdWidth.V256, SimdWidth.V512];

    [Theory]
    [MemberData(nameof(Widths))]
    public void GemmMatchesTwin(SimdWidth width) => AssertAll(KernelTwinChecks.GemmChecks(width).ToList(), width);

    [Theory]
    [MemberData(nameof(Widths))]
    public void CellKernelsMatchTwins(SimdWidth width) => AssertAll(KernelTwinChecks.CellChecks(width).ToList(), width);

    [Theory]
    [MemberData(nameof(Widths))]
    public void ActivationsAreWithinFourUlps(SimdWidth width) => AssertAll(KernelTwinChecks.ActivationChecks(width), width);

    private static void AssertAll(List<TwinResult> results, SimdWidth width)
    {
        Assert.NotEmpty(results);
        Assert.All(results, r => Assert.Equal(width, r.Width));
        var failed = results.Where(r => !r.Passed).ToList();
        Assert.True(failed.Count == 0, $"{failed.Count} of {results.Count} failed:\n" + string.Join("\n", failed.Take(20)));
    }

    [Fact]
    public void ForcedWidthIsTheWidthThatRuns()
    {
        foreach (var width in Enum.GetValues<SimdWidth>())
        {
            long before = SimdDispatch.RunCount(width);
            var a = new float[64 * 64];
            using (SimdDispatch.Force(width))
            {
                Assert.Equal(width, SimdDispatch.Current);
                Gemm.Sgemm(Transpose.No, Transpose.No, 64, 64, 64, 1f, a, 64, a, 64, 0f, new float[64 * 64], 64);
            }
            Assert.True(SimdDispatch.RunCount(width) > before, $"no kernel call was recorded at {width}");
        }
    }

    [Fact]
    public void LimitNeverExceedsTheHardware()
    {
        using (SimdDispatch.Limit(SimdWidth.V512)) Assert.Equal(SimdDispatch.Hardware, SimdDispatch.Current);
        using (SimdDispatch.Limit(SimdWidth.Scalar)) Assert.Equal(SimdWidth.Scalar, SimdDispatch.Current);
        Assert.Equal(SimdDispatch.Hardware, SimdDispatch.Current);
    }

    [Fact]
    public void GemmRejectsBadArgumentsNamingThem()
    {
        var a = new float[6];
        var e = Assert.Throws<ArgumentException>(() => Gemm.Sgemm(Transpose.No, Transpose.No, 2, 2, 3, 1f, a, 3, new float[5], 2, 0f, new float[4], 2));
        Assert.Contains("b is too short", e.Message);
        Assert.Contains("needs 6", e.Message);
        var e2 = Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Sgemm(Transpose.No, Transpose.No, 2, 2, 3, 1f, a, 2, new float[6], 2, 0f, new float[4], 2));
        Assert.Equal("lda", e2.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => Gemm.Sgemm(Transpose.No, Transpose.No, -1, 2, 3, 1f, a, 3, a, 2, 0f, new float[4], 2));
    }

    [Fact]
    public async Task ConcurrentCallersGetCorrectResults()
    {
        // Several threads share the worker pool: whoever finds it busy runs on its own thread.
        var rng = new Rng(1);
        int n = 96;
        var a = new float[n * n];
        var b = new float[n * n];
        rng.FillUniform(a, -1, 1);
        rng.FillUniform(b, -1, 1);
        var expected = new float[n * n];
        Gemm.Sgemm(Transpose.No, Transpose.Yes, n, n, n, 1f, a, n, b, n, 0f, expected, n);
        var tasks = Enumerable.Range(0, 8).Select(_ => Task.Run(() =>
        {
            for (int rep = 0; rep < 30; rep++)
            {
                var c = new float[n * n];
                Gemm.Sgemm(Transpose.No, Transpose.Yes, n, n, n, 1f, a, n, b, n, 0f, c, n);
                Assert.Equal(expected, c);
            }
        }, TestContext.Current.CancellationToken)).ToArray();
        await Task.WhenAll(tasks);
    }

    [Fact]
    public void ExceptionsInParallelWorkReachTheCaller()
    {
        var job = new ThrowingJob();
        var e = Assert.Throws<InvalidOperationException>(() => Parallelism.For(job, 64));
        Assert.Equal("boom 13", e.Message);
        Parallelism.For(new ThrowingJob { Bad = -1 }, 64); // the pool still works afterwards
    }

    private sealed class ThrowingJob : IParallelJob
    {
        public int Bad = 13;
        public void Execute(int index)
        {
            if (index == Bad) throw new InvalidOperationException($"boom {index}");
        }
    }
}

/// <summary>
/// The runtime's own switches: the KernelCheck program runs under DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 and
/// DOTNET_EnableHWIntrinsic=0, and must both pass every twin comparison and report that only the expected width ran.
/// </summary>
public class VectorPathMatrixTests
{
    public static TheoryData<string> Switches() => ["(none)", "DOTNET_EnableAVX512=0", "DOTNET_EnableAVX2=0", "DOTNET_EnableHWIntrinsic=0"];

    [Theory]
    [MemberData(nameof(Switches))]
    public async Task KernelCheckPassesAndRunsTheExpectedWidth(string envSwitch)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "Recur.KernelCheck.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing; it is built as a project reference of the tests");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        psi.ArgumentList.Add("--quick");
        foreach (var v in new[] { "DOTNET_EnableAVX512", "DOTNET_EnableAVX2", "DOTNET_EnableHWIntrinsic" }) psi.Environment.Remove(v);
        if (envSwitch != "(none)")
        {
            var kv = envSwitch.Split('=');
            psi.Environment[kv[0]] = kv[1];
        }
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        var stderr = p.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(timeout.Token);
        string output = await stdout;
        Assert.True(p.ExitCode == 0, $"KernelCheck failed (exit {p.ExitCode}):\n{output}\n{await stderr}");

        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        var reported = Enum.Parse<SimdWidth>(root.GetProperty("hardware").GetString()!);
        // What the switch must leave, given what this machine has when unrestricted.
        var unrestricted = Unrestricted();
        var expected = envSwitch switch
        {
            "DOTNET_EnableAVX512=0" => (SimdWidth)Math.Min((int)unrestricted, (int)SimdWidth.V256),
            "DOTNET_EnableAVX2=0" => (SimdWidth)Math.Min((int)unrestricted, (int)SimdWidth.V128),
            "DOTNET_EnableHWIntrinsic=0" => SimdWidth.Scalar,
            _ => unrestricted,
        };
        Assert.Equal(expected, reported);
        var ran = root.GetProperty("ran");
        foreach (var w in Enum.GetValues<SimdWidth>())
        {
            long count = ran.GetProperty(w.ToString()).GetInt64();
            if (w == expected) Assert.True(count > 0, $"no kernel ran at {w}");
            else Assert.True(count == 0, $"{count} kernel calls ran at {w}, but only {expected} should have");
        }
        TestContext.Current.TestOutputHelper?.WriteLine(output);
    }

    /// <summary>The width of this test process with none of the switches set, which the parent test run may not be.</summary>
    private static SimdWidth Unrestricted()
    {
        bool anySwitch = new[] { "DOTNET_EnableAVX512", "DOTNET_EnableAVX2", "DOTNET_EnableHWIntrinsic" }
            .Any(v => Environment.GetEnvironmentVariable(v) == "0");
        Assert.False(anySwitch, "run the test suite itself without DOTNET_Enable* switches; this test sets them per child process");
        return SimdDispatch.Hardware;
    }
}
