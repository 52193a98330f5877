using System.CommandLine;
using System.Diagnostics;
using Recur.Nn;
using Recur.Optim;

namespace Recur.Cli.Commands;

/// <summary>
/// <c>recur quickstart</c>: trains a small LSTM on a task it generates (report which marker, if any, appeared
/// anywhere in a sequence, which needs memory to the last step), shows progress, prints predictions and saves the
/// model file. No files or downloads.
/// </summary>
internal static class QuickstartCommand
{
    public static Command Create()
    {
        var steps = new Option<int>("--steps") { Description = "Training steps", DefaultValueFactory = _ => 400 };
        var length = new Option<int>("--length") { Description = "Sequence length (steps the model must remember across)", DefaultValueFactory = _ => 16 };
        var hidden = new Option<int>("--hidden") { Description = "LSTM hidden units", DefaultValueFactory = _ => 32 };
        var seed = new Option<ulong>("--seed") { Description = "Random seed (data, initialisation, shuffling)", DefaultValueFactory = _ => 1 };
        var output = new Option<string>("--output") { Description = "Folder for the trained model", DefaultValueFactory = _ => "recur-quickstart" };
        var cmd = new Command("quickstart", "Train a small LSTM on generated data and save it: the whole pipeline in under a minute, no files needed");
        foreach (var o in new Option[] { steps, length, hidden, seed, output }) cmd.Options.Add(o);
        cmd.SetAction(r => Run(r.GetValue(steps), r.GetValue(length), r.GetValue(hidden), r.GetValue(seed), r.GetValue(output)!));
        return cmd;
    }

    private const int Symbols = 8;
    private const int Classes = 3;
    private const int Batch = 32;

    private static int Run(int steps, int length, int hidden, ulong seed, string output)
    {
        if (steps < 1 || length < 1 || hidden < 1)
        {
            Console.Error.WriteLine($"error: --steps, --length and --hidden must be >= 1 (got {steps}, {length}, {hidden})");
            return 2;
        }
        Console.WriteLine($"quickstart: which marker (A, B or none) appeared somewhere in {length} random symbols? An LSTM of {hidden} units must remember it to the end.");
        Console.WriteLine($"config: steps={steps} length={length} hidden={hidden} batch={Batch} seed={seed} optimizer=Adam(lr=0.01) clip=1.0 output={output}");

        var rng = new Rng(seed);
        var lstm = new Lstm(Symbols, hidden, batchFirst: true, rng: rng.Split());
        var head = new Linear(hidden, Classes, rng: rng.Split());
        var parameters = lstm.Parameters().Concat(head.Parameters()).ToList();
        var optimizer = new Adam(parameters, learningRate: 0.01f);
        var loss = new CrossEntropyLoss();
        var data = rng.Split();

        var clock = Stopwatch.StartNew();
        double smoothed = double.NaN;
        for (int step = 1; step <= steps; step++)
        {
            var (x, y) = MakeBatch(data, Batch, length);
            optimizer.ZeroGrad();
            using var run = lstm.Forward(x);
            var last = LastHidden(run.HiddenState, hidden);
            var logits = head.Forward(last);
            var dLogits = new Tensor(Batch, Classes);
            float l = loss.Forward(logits.Output, y, dLogits);
            var dLast = logits.Backward(dLogits);
            run.Backward(null, dLast.Reshape(1, Batch, hidden));
            GradientClipping.ClipByNorm(parameters, 1f);
            optimizer.Step();
            smoothed = double.IsNaN(smoothed) ? l : 0.9 * smoothed + 0.1 * l;
            if (step % 50 == 0 || step == steps)
                Console.WriteLine($"step {step,5}/{steps}  loss {smoothed:F4}  {step * Batch / clock.Elapsed.TotalSeconds,8:F0} sequences/s");
        }

        lstm.Training = false;
        var (tx, ty) = MakeBatch(new Rng(seed + 1000), 256, length);
        using var test = lstm.Forward(tx, requiresGrad: false);
        var probs = Activations.Softmax(head.Forward(LastHidden(test.HiddenState, hidden)).Output).Output;
        int correct = 0;
        for (int b = 0; b < 256; b++) if (ArgMax(probs, b) == ty[b]) correct++;
        Console.WriteLine($"held-out accuracy: {correct / 2.56:F1}% on 256 new sequences (chance: {100.0 / Classes:F1}%)");
        string[] names = ["none", "A", "B"];
        for (int b = 0; b < 4; b++)
        {
            var symbols = Enumerable.Range(0, length).Select(t => SymbolAt(tx, b, t, length)).ToArray();
            int pred = ArgMax(probs, b);
            Console.WriteLine($"  {string.Concat(symbols.Select(s => (char)('A' + s)))} -> {names[pred],-4} (p={probs[b, pred]:F3}), true {names[ty[b]]}");
        }
        // The same weights as a model file (a classifier over one-hot symbols with last-state pooling): what
        // `recur inspect`, `recur export --onnx` and the library's ModelFile.Load read.
        var classifier = new SequenceClassifier(new ClassifierConfig
        {
            Encoder = new EncoderConfig { InputFeatures = Symbols, HiddenSize = hidden, Cell = RecurrentMode.Lstm },
            Pooling = Pooling.Last,
            Classes = Classes,
        }, new Rng(seed));
        classifier.Encoder.Rnn.LoadStateDict(lstm.StateDict());
        classifier.Head.LoadStateDict(head.StateDict());
        string path = Path.GetFullPath(Path.Combine(output, "model.recur"));
        ModelFile.Save(path, new ModelBundle
        {
            Model = classifier,
            Labels = names,
            Metadata = new Dictionary<string, string>
            {
                ["task"] = "quickstart-marker-memory",
                ["seed"] = seed.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["steps"] = steps.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["held_out_accuracy"] = ModelFile.Format(correct / 256.0),
            },
        });
        Console.WriteLine($"saved the model to {path} ({clock.Elapsed.TotalSeconds:F1} s in all)");
        Console.WriteLine($"next: recur inspect {path}   |   recur export {path} --onnx quickstart.onnx   |   recur train --help");
        return 0;
    }

    /// <summary>
    /// One-hot symbol sequences (B, T, Symbols): each holds at most one marker (A or B) at a random step, the other
    /// steps are drawn from the remaining symbols. Label 0 = no marker, 1 = A seen, 2 = B seen.
    /// </summary>
    private static (Tensor X, int[] Y) MakeBatch(Rng rng, int batch, int length)
    {
        var x = new Tensor(batch, length, Symbols);
        var y = new int[batch];
        var xs = x.Span;
        for (int b = 0; b < batch; b++)
        {
            int label = rng.NextInt(Classes);
            int at = rng.NextInt(length);
            y[b] = label;
            for (int t = 0; t < length; t++)
            {
                int s = label != 0 && t == at ? label - 1 : 2 + rng.NextInt(Symbols - 2);
                xs[(b * length + t) * Symbols + s] = 1f;
            }
        }
        return (x, y);
    }

    private static int SymbolAt(Tensor x, int b, int t, int length)
    {
        var row = x.Span.Slice((b * length + t) * Symbols, Symbols);
        return row.IndexOf(1f);
    }

    /// <summary>h_n of the (single) layer: (1, B, H) viewed as (B, H).</summary>
    private static Tensor LastHidden(Tensor hn, int hidden) => hn.Reshape(hn.Dim(1), hidden);

    private static int ArgMax(Tensor probs, int row)
    {
        var r = probs.Span.Slice(row * Classes, Classes);
        return TensorPrimitives.IndexOfMax(r);
    }
}
