using System.CommandLine;
using System.Globalization;
using Recur.Cli.Train;
using Recur.IO.Onnx;
using Recur.Nn;

namespace Recur.Cli.Commands;

/// <summary><c>recur inspect</c>, <c>export --onnx</c> and <c>import --torch</c>.</summary>
internal static class ModelCommands
{
    public static Command Inspect()
    {
        var path = new Argument<string>("model") { Description = "Model file (model.recur)" };
        var cmd = new Command("inspect", "Show a model file: kind, architecture, parameters, vocabulary, labels and training metadata");
        cmd.Arguments.Add(path);
        cmd.SetAction(parse =>
        {
            string file = parse.GetValue(path)!;
            var b = ModelFile.Load(file);
            var inv = CultureInfo.InvariantCulture;
            Console.WriteLine($"{file}: {Describe(b.Model)}");
            var ps = b.Model.NamedParameters().ToList();
            Console.WriteLine(string.Create(inv, $"parameters: {ps.Sum(p => (long)p.Value.Value.Length):N0} in {ps.Count} tensors"));
            foreach (var (name, p) in ps) Console.WriteLine($"  {name,-34} {Recur.Tensors.Tensor.ShapeString(p.Value.Shape)}");
            if (b.Tokenizer is { } t) Console.WriteLine($"tokenizer: {t.Kind}, {t.Vocabulary.Count} tokens: {string.Join(" ", t.Vocabulary.Tokens.Take(20).Select(Show))}{(t.Vocabulary.Count > 20 ? " ..." : "")}");
            if (b.TargetTokenizer is { } tt) Console.WriteLine($"target tokenizer: {tt.Kind}, {tt.Vocabulary.Count} tokens: {string.Join(" ", tt.Vocabulary.Tokens.Take(20).Select(Show))}{(tt.Vocabulary.Count > 20 ? " ..." : "")}");
            if (b.Preprocessing is { } pre) Console.WriteLine($"preprocessing: {Preprocessing(pre)}");
            if (b.Labels is { } l) Console.WriteLine($"labels ({l.Count}): {string.Join(", ", l.Take(30))}{(l.Count > 30 ? ", ..." : "")}");
            if (b.Metadata.Count > 0)
            {
                // The training options the model's task uses; options of other tasks (stored at their defaults) are left out.
                string? task = b.Metadata.GetValueOrDefault("config.task");
                bool Own(string key) => task is null || !key.StartsWith("config.", StringComparison.Ordinal)
                                        || Settings.All.FirstOrDefault(o => o.Name == key[7..]) is not { } spec || spec.AppliesTo(task);
                var shown = b.Metadata.Where(kv => Own(kv.Key)).OrderBy(kv => kv.Key, StringComparer.Ordinal).ToList();
                Console.WriteLine("metadata:");
                foreach (var (k, v) in shown)
                    Console.WriteLine($"  {k,-34} {(v.Length <= 80 ? v : v[..77] + "...")}");
                if (shown.Count < b.Metadata.Count) Console.WriteLine($"  ({b.Metadata.Count - shown.Count} options of other tasks not shown)");
            }
            return 0;
        });
        return cmd;
    }

    private static string Show(string token) => token switch { "\n" => "\\n", "\t" => "\\t", " " => "␣", _ => token };

    private static string Preprocessing(ModelPreprocessing p) => string.Join("; ", new[]
    {
        p.Standardizer is { } s ? $"standardised, {s.Columns} features" : null,
        p.Target is { } t ? $"targets standardised (mean {t.Mean[0]:G6}, std {t.Std[0]:G6})" : null,
        p.Audio is { } a ? $"audio at {a.SampleRate} Hz, {a.Features.Coefficients} MFCC from {a.Features.MelBands} mel bands" : null,
        p.Music is { } m ? $"piano roll from MIDI pitch {m.LowestPitch}" : null,
    }.Where(x => x is not null));

    private static string Describe(Module m) => ModelKinds.All.FirstOrDefault(k => k.ModelType.IsInstanceOfType(m))?.Describe(m) ?? m.GetType().Name;

    public static Command Export()
    {
        var path = new Argument<string>("model") { Description = "Model file (model.recur)" };
        var onnx = new Option<string>("--onnx") { Description = "Write a standard ONNX graph (RNN/LSTM/GRU operators, time-major) to this file", Required = true };
        var cmd = new Command("export", "Export a classifier, sequence regressor, tagger, language model or recurrent stack to ONNX (runs in ONNX Runtime with no Recur code)");
        cmd.Arguments.Add(path);
        cmd.Options.Add(onnx);
        cmd.SetAction(parse =>
        {
            string file = parse.GetValue(path)!;
            var b = ModelFile.Load(file);
            string target = parse.GetValue(onnx)!;
            var kind = ModelKinds.For(b.Model);
            string onnxKinds = string.Join(", ", ModelKinds.All.Where(k => k.ExportsOnnx).Select(k => k.Name));
            if (!kind.ExportsOnnx)
                throw new RecurFormatException(file, "model.kind", $"expected a model kind with an ONNX form ({onnxKinds}), found '{kind.Name}', which has none (use it with `recur predict` and `recur evaluate`, or the library)");
            OnnxExport.Signature sig;
            try { sig = OnnxExport.Export(b.Model, target); }
            catch (NotSupportedException e) { throw new RecurFormatException(file, "model", $"expected a {kind.Name} model that ONNX export supports, found one it does not: {e.Message}"); }
            Console.WriteLine($"wrote {target}: inputs [{string.Join(", ", sig.Inputs)}] -> outputs [{string.Join(", ", sig.Outputs)}]");
            return 0;
        });
        return cmd;
    }

    public static Command Import()
    {
        var torch = new Option<string>("--torch") { Description = "A safetensors file holding a PyTorch state_dict of an RNN/LSTM/GRU stack (plus embedding and linear head if present)", Required = true };
        var output = new Option<string>("--output") { Description = "Model file to write", DefaultValueFactory = _ => "imported.recur" };
        var prefix = new Option<string>("--prefix") { Description = "Key prefix of the recurrent module, e.g. 'lstm.' (default: detected)" };
        var head = new Option<string>("--head-prefix") { Description = "Key prefix of the linear head, e.g. 'fc.' (default: detected; '' for none)" };
        var embedding = new Option<string>("--embedding-prefix") { Description = "Key prefix of the embedding (default: detected; '' for none)" };
        var relu = new Option<bool>("--relu") { Description = "An Elman RNN uses ReLU (a state dict does not say; default tanh)" };
        var batchFirst = new Option<bool>("--batch-first") { Description = "A bare stack takes (B, T, F) input (PyTorch's default is time-first)" };
        var vocab = new Option<string>("--vocab") { Description = "Vocabulary for an embedding: one token per line in id order (makes `recur predict` work on text)" };
        var labels = new Option<string>("--labels") { Description = "Comma-separated class names of the head, in output order" };
        var cmd = new Command("import", "Import a PyTorch state_dict (safetensors) as a Recur model file; the model then gives PyTorch's outputs");
        foreach (var o in new Option[] { torch, output, prefix, head, embedding, relu, batchFirst, vocab, labels }) cmd.Options.Add(o);
        cmd.SetAction(parse =>
        {
            var r = TorchImport.Import(parse.GetValue(torch)!, new TorchImportOptions
            {
                Prefix = parse.GetValue(prefix), HeadPrefix = parse.GetValue(head), EmbeddingPrefix = parse.GetValue(embedding),
                Relu = parse.GetValue(relu), BatchFirst = parse.GetValue(batchFirst),
            });
            ITokenizer? tok = null;
            if (parse.GetValue(vocab) is { } vp)
            {
                var tokens = DataFiles.Lines(DataFiles.ReadAllText(vp)).ToList();
                tok = new WordTokenizer(new Vocabulary(tokens), lowercase: false);
            }
            var labelList = parse.GetValue(labels)?.Split(',', StringSplitOptions.TrimEntries).ToList();
            if (r.Model is SequenceClassifier c && labelList is not null && labelList.Count != c.Config.Classes)
                throw new ArgumentException($"--labels: expected {c.Config.Classes} names for the head's outputs, found {labelList.Count}");
            var meta = new Dictionary<string, string> { ["imported_from"] = Path.GetFileName(parse.GetValue(torch)!) };
            if (r.Model is SequenceClassifier { Encoder.Embedding: not null } && tok is not null && labelList is not null)
            {
                // Enough to use it like a trained text classifier: predict/evaluate with word tokens.
                meta["config.task"] = "classify";
                meta["config.data"] = "(imported)";
                meta["config.lowercase"] = "false";
            }
            string target = parse.GetValue(output)!;
            ModelFile.Save(target, new ModelBundle { Model = r.Model, Tokenizer = tok, Labels = labelList, Metadata = meta });
            Console.WriteLine(r.Summary);
            if (r.Ignored.Count > 0) Console.WriteLine($"ignored tensors: {string.Join(", ", r.Ignored)}");
            Console.WriteLine($"wrote {target}");
            return 0;
        });
        return cmd;
    }
}
