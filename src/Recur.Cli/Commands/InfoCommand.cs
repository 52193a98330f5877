using System.CommandLine;
using System.Runtime.Intrinsics;
using Recur.Kernels;

namespace Recur.Cli.Commands;

/// <summary><c>recur info</c>: version, vector width the kernels use, and threads.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var cmd = new Command("info", "Show the version, the SIMD width the kernels run with and the thread count");
        cmd.SetAction(_ =>
        {
            Console.WriteLine($"recur {typeof(Gemm).Assembly.GetName().Version}");
            Console.WriteLine($".NET {Environment.Version} on {System.Runtime.InteropServices.RuntimeInformation.OSDescription}");
            Console.WriteLine($"kernel SIMD width: {SimdDispatch.Hardware} (Vector512 {Vector512.IsHardwareAccelerated}, Vector256 {Vector256.IsHardwareAccelerated}, Vector128 {Vector128.IsHardwareAccelerated})");
            Console.WriteLine($"threads: {Parallelism.ThreadCount} (set RECUR_NUM_THREADS to change)");
            return 0;
        });
        return cmd;
    }
}
