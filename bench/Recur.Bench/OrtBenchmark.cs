using Microsoft.ML.OnnxRuntime;
using Recur.IO.Onnx;
using Recur.Kernels;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Bench;

/// <summary>
/// ONNX Runtime beside Recur in the engine benchmark (<c>rnn --ort</c>): each row's layer is exported with the
/// project's own exporter (<see cref="OnnxExport"/>, a bare recurrent stack) and ONNX Runtime's inference on the same
/// input is timed in the same process, with as many intra-op threads as Recur uses. Lives in the bench project only,
/// so neither the library nor the <c>recur</c> tool (which compiles <see cref="RnnBenchmark"/>) links ONNX Runtime.
/// </summary>
public static class OrtBenchmark
{
    /// <summary>Makes <see cref="RnnBenchmark"/> accept <c>--ort</c>.</summary>
    public static void Register() => RnnBenchmark.OrtTimer = Time;

    /// <summary>
    /// Median ms of one ONNX Runtime inference of <paramref name="layer"/> on <paramref name="input"/> (B, T, I),
    /// fed time-major (the exporter's layout) with every sequence at full length. The exporter has no initial-state
    /// input, so rows with <see cref="RnnBenchmark.Config.State"/> run from zero state in ONNX Runtime.
    /// </summary>
    public static double? Time(RnnBenchmark.Config c, Recurrent layer, Tensor input, double seconds)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"recur-bench-ort-{Environment.ProcessId}");
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, $"{c.Kind}_{c.B}_{c.T}_{c.I}_{c.H}_{c.L}{(c.Bi ? "_bi" : "")}.onnx");
        try
        {
            OnnxExport.Export(layer, path);
            using var options = new SessionOptions
            {
                IntraOpNumThreads = Parallelism.ThreadCount,
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            };
            using var session = new InferenceSession(path, options);

            // (B, T, I) -> (T, B, I)
            var x = new float[c.T * c.B * c.I];
            var src = input.Span;
            for (int b = 0; b < c.B; b++)
                for (int t = 0; t < c.T; t++)
                    src.Slice((b * c.T + t) * c.I, c.I).CopyTo(x.AsSpan((t * c.B + b) * c.I, c.I));
            var lengths = new int[c.B];
            Array.Fill(lengths, c.T);
            using var xValue = OrtValue.CreateTensorValueFromMemory(x, [c.T, c.B, c.I]);
            using var lValue = OrtValue.CreateTensorValueFromMemory(lengths, [c.B]);
            using var run = new RunOptions();
            string[] inputNames = ["input", "lengths"];
            string[] outputNames = ["output", "hidden"];
            OrtValue[] inputs = [xValue, lValue];
            return RnnBenchmark.Median(() =>
            {
                using var results = session.Run(run, inputNames, inputs, outputNames);
            }, seconds);
        }
        catch (OnnxRuntimeException e)
        {
            Console.Error.WriteLine($"ONNX Runtime could not run {Path.GetFileName(path)}: {e.Message}");
            return null;
        }
        finally
        {
            try { File.Delete(path); } catch (IOException) { }
        }
    }
}
