using System.Runtime.Intrinsics;
using System.Text.Json;
using Recur.Kernels;
using Recur.KernelCheck;

// Runs every kernel against its naive twin at the vector width this process has (set by the runtime's
// DOTNET_Enable* switches) and prints one JSON object: what the hardware reports, which widths actually ran,
// and any failed comparison. Exit code 0 when everything passed.
var width = SimdDispatch.Hardware;
var results = KernelTwinChecks.All(width, quick: args.Contains("--quick"));
var failures = results.Where(r => !r.Passed).Select(r => r.ToString()).ToList();
var report = new Dictionary<string, object>
{
    ["hardware"] = width.ToString(),
    ["vector512"] = Vector512.IsHardwareAccelerated,
    ["vector256"] = Vector256.IsHardwareAccelerated,
    ["vector128"] = Vector128.IsHardwareAccelerated,
    ["ran"] = Enum.GetValues<SimdWidth>().ToDictionary(w => w.ToString(), w => SimdDispatch.RunCount(w)),
    ["checks"] = results.Count,
    ["failures"] = failures,
};
Console.WriteLine(JsonSerializer.Serialize(report));
return failures.Count == 0 ? 0 : 1;
