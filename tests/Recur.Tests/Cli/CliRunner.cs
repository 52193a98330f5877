using System.Diagnostics;

namespace Recur.Tests.Cli;

/// <summary>Runs the built <c>recur</c> tool (Recur.Cli.dll) as a child process.</summary>
public static class CliRunner
{
    public static string Dll
    {
        get
        {
            // tests/Recur.Tests/bin/<cfg>/<tfm>/ -> src/Recur.Cli/bin/<cfg>/<tfm>/Recur.Cli.dll
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            string tfm = dir.Name, cfg = dir.Parent!.Name;
            return Path.Combine(Support.Repo.Root, "src", "Recur.Cli", "bin", cfg, tfm, "Recur.Cli.dll");
        }
    }

    public static Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] args) => Run(args, null);

    /// <summary>
    /// Small model sizes for a quick run of <paramref name="task"/>: --hidden for the recurrent tasks and --embedding for
    /// the token tasks (recur train refuses an option the task does not use); the mlp keeps its own widths.
    /// </summary>
    public static string[] Sizes(string task, int n)
    {
        string v = n.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return task switch
        {
            "classify" or "tag" or "lm" or "seq2seq" => ["--hidden", v, "--embedding", v],
            "mlp" => [],
            _ => ["--hidden", v],
        };
    }

    /// <summary>
    /// Runs the tool; <paramref name="environment"/> sets (or, with a null value, removes) variables of the child;
    /// <paramref name="stdin"/>, when given, is written to the child's standard input (then closed).
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> Run(string[] args, IReadOnlyDictionary<string, string?>? environment,
        string? workingDirectory = null, string? stdin = null)
    {
        using var p = Start(args, environment, workingDirectory, stdin is not null);
        var ct = TestContext.Current.CancellationToken;
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin.AsMemory(), ct);
            p.StandardInput.Close();
        }
        var stdout = p.StandardOutput.ReadToEndAsync(ct);
        var stderr = p.StandardError.ReadToEndAsync(ct);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromMinutes(3));
        await p.WaitForExitAsync(timeout.Token);
        return (p.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the tool with redirected output (the caller waits, reads and disposes).</summary>
    public static Process Start(string[] args, IReadOnlyDictionary<string, string?>? environment = null, string? workingDirectory = null, bool redirectInput = false)
    {
        Assert.True(File.Exists(Dll), $"{Dll} is missing; the CLI is built as a project reference of the tests");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = redirectInput, UseShellExecute = false };
        if (workingDirectory is not null) psi.WorkingDirectory = workingDirectory;
        if (environment is not null)
            foreach (var (k, v) in environment)
                if (v is null) psi.Environment.Remove(k); else psi.Environment[k] = v;
        psi.ArgumentList.Add(Dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        return Process.Start(psi)!;
    }

    /// <summary>Sends a POSIX signal (TERM, INT, KILL) to a process.</summary>
    public static void Signal(Process p, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-" + signal, p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture) }, UseShellExecute = false })!;
        kill.WaitForExit();
    }
}
