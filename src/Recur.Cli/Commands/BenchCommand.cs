using System.CommandLine;

namespace Recur.Cli.Commands;

/// <summary><c>recur bench</c>: the engine benchmark of bench/Recur.Bench (same code), so the JIT build and the NativeAOT binary can be compared.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var rest = new Argument<string[]>("options") { Description = "Options of the engine benchmark: [--json FILE] [--threads N] [--seconds S] [--no-gemm] [--only KIND]", Arity = ArgumentArity.ZeroOrMore };
        var cmd = new Command("bench", "Time the recurrent layers (inference and training step) and SGEMM: the engine benchmark of docs/benchmarks.md");
        cmd.Arguments.Add(rest);
        // Program.cs hands `recur bench ...` to the benchmark before parsing; this command exists for --help.
        cmd.SetAction(parse => Recur.Bench.RnnBenchmark.Run(parse.GetValue(rest) ?? []));
        return cmd;
    }
}
