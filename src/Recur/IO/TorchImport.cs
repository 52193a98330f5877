using System.Text.RegularExpressions;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.IO;

/// <summary>Options of <see cref="TorchImport"/>; every one can be left to detection.</summary>
public sealed record TorchImportOptions
{
    /// <summary>Key prefix of the recurrent module (e.g. "lstm." or "encoder.rnn."); null: detected.</summary>
    public string? Prefix { get; init; }
    /// <summary>Key prefix of a linear head after the recurrent stack (e.g. "fc."); null: detected; "" to ignore any head.</summary>
    public string? HeadPrefix { get; init; }
    /// <summary>Key prefix of an embedding before the recurrent stack (e.g. "embedding."); null: detected; "" for none.</summary>
    public string? EmbeddingPrefix { get; init; }
    /// <summary>An Elman RNN state dict does not say its nonlinearity: tanh (PyTorch's default) unless set.</summary>
    public bool Relu { get; init; }
    /// <summary>Layout of a bare stack's input and output: (B, T, ·) when true, (T, B, ·) (PyTorch's default) when false.
    /// A state dict does not record it. Classifiers are always batch-first.</summary>
    public bool BatchFirst { get; init; }
}

/// <summary>What <see cref="TorchImport.Import"/> found.</summary>
/// <param name="Model">A <see cref="Recurrent"/> stack, or a <see cref="SequenceClassifier"/> when a head was found.</param>
/// <param name="Recurrent">The recurrent stack (inside the classifier when there is one).</param>
/// <param name="Summary">What was detected, for the user.</param>
/// <param name="Ignored">Tensors in the file that are not part of the model.</param>
public sealed record TorchImportResult(Module Model, Recurrent Recurrent, string Summary, IReadOnlyList<string> Ignored);

/// <summary>
/// PyTorch interop: a safetensors file holding a <c>state_dict</c> of a <c>torch.nn.RNN/LSTM/GRU</c> (PyTorch's names
/// <c>weight_ih_l{k}[_reverse]</c>, ...) becomes the matching Recur model, which then gives PyTorch's outputs.
/// The configuration is read from the tensors: hidden size from <c>weight_hh</c>, gates (1 RNN, 3 GRU, 4 LSTM) from
/// its rows, input size from <c>weight_ih_l0</c>, layers from the largest k, bidirectional from <c>_reverse</c>, bias
/// from <c>bias_ih</c>, and an LSTM's projection (<c>proj_size</c>) from <c>weight_hr_l0</c>, (P, H), when present. An optional linear head on the concatenated final states (<c>fc(h_n)</c>, as most PyTorch
/// classifiers do) and an optional embedding before the stack make it a <see cref="SequenceClassifier"/> with
/// last-state pooling.
/// </summary>
public static class TorchImport
{
    private static readonly Regex WeightIh = new(@"^(?<prefix>.*?)weight_ih_l0$", RegexOptions.CultureInvariant);

    /// <summary>Imports the state dict in <paramref name="path"/>.</summary>
    public static TorchImportResult Import(string path, TorchImportOptions? options = null)
    {
        options ??= new TorchImportOptions();
        var st = SafeTensorsFile.Load(path);
        string prefix = options.Prefix ?? DetectPrefix(st, path);
        string Key(string n) => prefix + n;
        if (!st.Contains(Key("weight_ih_l0")) || !st.Contains(Key("weight_hh_l0")))
            throw new RecurFormatException(path, $"tensor '{Key("weight_ih_l0")}'", "expected a PyTorch RNN/LSTM/GRU state dict with weight_ih_l0 and weight_hh_l0 under this prefix, found none");
        var hh = st.Info(Key("weight_hh_l0")).Shape;
        var ih = st.Info(Key("weight_ih_l0")).Shape;
        // An LSTM with a projection: weight_hr_l0 is (P, H) and weight_hh_l0 (4H, P).
        var hr = st.Contains(Key("weight_hr_l0")) ? st.Info(Key("weight_hr_l0")).Shape : null;
        if (hr is not null)
        {
            if (hr.Length != 2 || hh.Length != 2 || hr[0] < 1 || hr[0] >= hr[1] || hh[1] != hr[0] || hh[0] != 4 * hr[1])
                throw new RecurFormatException(path, $"tensor '{Key("weight_hr_l0")}' field 'shape'",
                    $"expected an LSTM projection (P, H) with P < H, weight_hh_l0 (4H, P), found weight_hr_l0 ({string.Join(", ", hr)}) and weight_hh_l0 ({string.Join(", ", hh)})");
        }
        else if (hh.Length != 2 || ih.Length != 2 || hh[0] % hh[1] != 0)
            throw new RecurFormatException(path, $"tensor '{Key("weight_hh_l0")}' field 'shape'", $"expected (G*H, H) with G in 1, 3, 4, found ({string.Join(", ", hh)})");
        if (ih.Length != 2)
            throw new RecurFormatException(path, $"tensor '{Key("weight_ih_l0")}' field 'shape'", $"expected (G*H, input), found ({string.Join(", ", ih)})");
        int proj = hr is null ? 0 : hr[0];
        int h = hr is null ? hh[1] : hr[1], gates = hh[0] / h, input = ih[1];
        var mode = gates switch
        {
            4 => RecurrentMode.Lstm,
            3 => RecurrentMode.Gru,
            1 => options.Relu ? RecurrentMode.RnnRelu : RecurrentMode.RnnTanh,
            _ => throw new RecurFormatException(path, $"tensor '{Key("weight_hh_l0")}' field 'shape'", $"expected G*H rows with G = 1, 3 or 4 gates, found {hh[0]} rows for H = {h}"),
        };
        int layers = 0;
        while (st.Contains(Key($"weight_ih_l{layers}"))) layers++;
        bool bidirectional = st.Contains(Key("weight_ih_l0_reverse"));
        bool bias = st.Contains(Key("bias_ih_l0"));
        var rnn = new Recurrent(mode, input, h, layers, bidirectional, bias, batchFirst: options.BatchFirst, projSize: proj);
        var used = new HashSet<string>();
        var rnnState = new Dictionary<string, Tensor>();
        foreach (var (name, _) in rnn.NamedParameters())
        {
            if (!st.Contains(Key(name)))
                throw new RecurFormatException(path, $"tensor '{Key(name)}'", $"expected it in a {layers}-layer {(bidirectional ? "bidirectional " : "")}{mode} with{(bias ? "" : "out")} bias{(proj > 0 ? $" and projection {proj}" : "")}, found none");
            rnnState[name] = st.ReadTensor(Key(name));
            used.Add(Key(name));
        }
        try { rnn.LoadStateDict(rnnState); }
        catch (ArgumentException e) { throw new RecurFormatException(path, "state dict", e.Message); }

        // A linear head reading the concatenated final states, and an embedding feeding the stack.
        int dh = rnn.OutputSize;
        string? head = options.HeadPrefix ?? DetectLinear(st, used, cols: dh);
        if (head == "") head = null;
        string? emb = options.EmbeddingPrefix ?? DetectEmbedding(st, used, input, head);
        if (emb == "") emb = null;
        string kind = $"{layers}-layer {(bidirectional ? "bidirectional " : "")}{mode} (input {input}, hidden {h}{(proj > 0 ? $", proj_size {proj}" : "")}{(bias ? "" : ", no bias")})";
        Module model = rnn;
        if (head is not null)
        {
            var hw = st.Info(head + "weight");
            if (hw.Shape.Length != 2 || hw.Shape[1] != dh)
                throw new RecurFormatException(path, $"tensor '{head}weight' field 'shape'", $"expected (classes, {dh}) to read the final states, found ({string.Join(", ", hw.Shape)})");
            int classes = hw.Shape[0];
            int? vocab = emb is null ? null : st.Info(emb + "weight").Shape[0];
            var clf = new SequenceClassifier(new ClassifierConfig
            {
                Encoder = new EncoderConfig
                {
                    VocabularySize = vocab, InputFeatures = vocab is null ? input : null, EmbeddingDim = input,
                    Cell = mode, HiddenSize = h, Layers = layers, Bidirectional = bidirectional, ProjSize = proj,
                },
                Pooling = Pooling.Last,
                Classes = classes,
            }, new Rng(0));
            var state = new Dictionary<string, Tensor>();
            foreach (var (name, t) in rnnState) state["encoder.rnn." + name] = t;
            state["head.weight"] = st.ReadTensor(head + "weight");
            used.Add(head + "weight");
            if (!st.Contains(head + "bias"))
                throw new RecurFormatException(path, $"tensor '{head}bias'", "expected the head's bias, found none (heads without bias are not supported)");
            state["head.bias"] = st.ReadTensor(head + "bias");
            used.Add(head + "bias");
            if (emb is not null)
            {
                state["encoder.embedding.weight"] = st.ReadTensor(emb + "weight");
                used.Add(emb + "weight");
            }
            if (!bias)
                throw new RecurFormatException(path, $"tensor '{Key("bias_ih_l0")}'", "expected biases: classifiers built on imported stacks need them");
            try { clf.LoadStateDict(state); }
            catch (ArgumentException e) { throw new RecurFormatException(path, "state dict", e.Message); }
            // The classifier's own stack must be the one loaded (same values, now inside the classifier).
            model = clf;
            rnn = clf.Encoder.Rnn;
            kind = $"{(emb is null ? "" : $"embedding '{emb}' ({vocab} tokens) -> ")}{kind} -> linear head '{head}' ({classes} classes) on the final states";
        }
        var ignored = st.Names.Where(n => !used.Contains(n)).OrderBy(n => n, StringComparer.Ordinal).ToList();
        return new TorchImportResult(model, rnn, $"'{prefix}': {kind}", ignored);
    }

    private static string DetectPrefix(SafeTensorsFile st, string path)
    {
        var candidates = st.Names.Select(n => WeightIh.Match(n)).Where(m => m.Success).Select(m => m.Groups["prefix"].Value)
            .Where(p => !p.StartsWith("grad", StringComparison.Ordinal)).OrderBy(p => p.Length).ThenBy(p => p, StringComparer.Ordinal).ToList();
        if (candidates.Count == 0)
            throw new RecurFormatException(path, "tensors", "expected a PyTorch RNN/LSTM/GRU state dict (a '...weight_ih_l0' tensor), found none");
        return candidates[0];
    }

    /// <summary>A "<c>p.weight</c>" of shape (n, cols) with a "<c>p.bias</c>" of (n), among the tensors not yet used.</summary>
    private static string? DetectLinear(SafeTensorsFile st, HashSet<string> used, int cols)
    {
        foreach (var name in st.Names.Where(n => n.EndsWith("weight", StringComparison.Ordinal) && !used.Contains(n)).OrderBy(n => n, StringComparer.Ordinal))
        {
            string p = name[..^"weight".Length];
            if (p.StartsWith("grad", StringComparison.Ordinal)) continue;
            var s = st.Info(name).Shape;
            if (s.Length == 2 && s[1] == cols && st.Contains(p + "bias") && st.Info(p + "bias").Shape.SequenceEqual([s[0]])) return p;
        }
        return null;
    }

    private static string? DetectEmbedding(SafeTensorsFile st, HashSet<string> used, int dim, string? head)
    {
        if (head is null) return null; // a bare stack has no token input
        foreach (var name in st.Names.Where(n => n.EndsWith("weight", StringComparison.Ordinal) && !used.Contains(n) && n != head + "weight").OrderBy(n => n, StringComparer.Ordinal))
        {
            string p = name[..^"weight".Length];
            var s = st.Info(name).Shape;
            if (p.StartsWith("grad", StringComparison.Ordinal) || st.Contains(p + "bias")) continue;
            if (s.Length == 2 && s[1] == dim && s[0] >= 2) return p;
        }
        return null;
    }
}
