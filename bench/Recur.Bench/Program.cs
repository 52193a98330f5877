using BenchmarkDotNet.Running;
using Recur.Bench;

// Recur benchmarks.
//   rnn [--json FILE] [--threads N] [--seconds S] [--ort]   the engine benchmark (recurrent layers, SGEMM, FMA peak;
//                                                            --ort: ONNX Runtime on the same rows)
//   schedule [--rounds N] [--threads N] [--train] [--ort] [--row "lstm 32 50 64 128 1 [bi] [state]"]...
//                                                    A/B of the recurrent schedules, alternated in one process
//                                                    (--train: the backward follows the forward's schedule)
//   kernels [BenchmarkDotNet arguments]              per-width kernel micro-benchmarks with BenchmarkDotNet
//   gemm-ab [--rounds R] [--configs a,b] [--shapes s]  interleaved A/B of the GEMM blocking settings in one process
//   ctc [--seconds S] [--threads N] [--json FILE]    CTC loss + gradient beside a BiLSTM training step of matching size
//   transcribe-stream [--chunk-ms 100] [--audio-seconds 10] [--rounds 3] [--threads N] [--model FILE --list TSV [--files 50]]
//                                                    per-chunk latency of StreamingRecognizer (a trained model on real utterances with --model)
//   cell-math [--repeats N] [--iterations N]        LSTM/GRU forward cell kernels: previous math, current math, bias folded
//   activation-ulps [--stride N] [--threads N]      sigmoid and tanh error in ulp over every float of [-20, 20]
//   serve-load --cli Recur.Cli.dll [--seconds S] [--batch-delay-ms D]
//                                                    HTTP load on `recur serve` (127.0.0.1), batching on/off, vs ONNX Runtime
if (args.Length == 0 || args[0] is "-h" or "--help")
{
    Console.WriteLine("usage: Recur.Bench rnn [--json FILE] [--threads N] [--seconds S] [--no-gemm] [--only KIND] [--ort]");
    Console.WriteLine("       Recur.Bench schedule [--rounds N] [--threads N] [--train] [--ort] [--row \"lstm 32 50 64 128 1 [bi] [state]\"]...");
    Console.WriteLine("       Recur.Bench kernels [BenchmarkDotNet options, e.g. --filter *Gemm*]");
    Console.WriteLine("       Recur.Bench gemm-ab [--rounds R] [--reps N] [--threads N] [--configs base,pfB,...] [--shapes 512,64x2048x512]");
    Console.WriteLine("       Recur.Bench ctc [--seconds S] [--threads N] [--json FILE]");
    Console.WriteLine("       Recur.Bench transcribe-stream [--chunk-ms 100] [--audio-seconds 10] [--rounds 3] [--threads N] [--model FILE --list TSV [--files 50]]");
    Console.WriteLine("       Recur.Bench cell-math [--repeats N] [--iterations N]");
    Console.WriteLine("       Recur.Bench activation-ulps [--stride N] [--threads N]");
    Console.WriteLine("       Recur.Bench serve-load --cli src/Recur.Cli/bin/Release/net10.0/Recur.Cli.dll [--seconds S] [--batch-delay-ms D]");
    return args.Length == 0 ? 2 : 0;
}
OrtBenchmark.Register();
return args[0] switch
{
    "rnn" => RnnBenchmark.Run(args[1..]),
    "schedule" => ScheduleBenchmark.Run(args[1..]),
    "kernels" => RunKernels(args[1..]),
    "ctc" => CtcBenchmark.Run(args[1..]),
    "transcribe-stream" => StreamBenchmark.Run(args[1..]),
    "serve-load" => ServeLoad.Run(args[1..]),
    "gemm-ab" => GemmAb.Run(args[1..]),
    "cell-math" => CellMathBenchmark.RunTiming(args[1..]),
    "activation-ulps" => CellMathBenchmark.RunUlps(args[1..]),
    _ => Unknown(args[0]),
};

static int RunKernels(string[] rest)
{
    BenchmarkSwitcher.FromTypes([typeof(KernelBenchmarks)]).Run(rest);
    return 0;
}

static int Unknown(string command)
{
    Console.Error.WriteLine($"unknown command '{command}': expected 'rnn', 'schedule', 'kernels', 'gemm-ab', 'ctc', 'transcribe-stream', 'serve-load', 'cell-math' or 'activation-ulps'");
    return 2;
}
