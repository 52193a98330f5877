using System.Buffers.Binary;
using Recur.Data;
using Recur.IO;
using Recur.Models;
using Recur.Nn;
using Recur.Tensors;

namespace Recur.Tests.IO;

/// <summary>
/// Every byte of a real model file's header (the safetensors JSON with the Recur configuration inside it), changed in
/// several ways, gives a <see cref="RecurFormatException"/> that names the file and a field, and never .NET's own text
/// ("The given key was not present in the dictionary.", "(Parameter '...')", type names).
/// </summary>
public class ModelHeaderFlipTests
{
    /// <summary>Phrases of .NET exception messages that must never reach a user.</summary>
    private static readonly string[] DotNetText =
        ["The given key", "was not present", "(Parameter '", "System.", "Recur.Models", "Recur.IO", "Exception", "Object reference", "Index was outside",
         "Nullable object", "LineNumber", "BytePositionInLine", "Path: $", "JSON deserialization", "Cannot transcode", "The requested operation"];

    private static IEnumerable<(string Name, ModelBundle Bundle)> Models()
    {
        var tok = WordTokenizer.Build(["good film", "bad film"]);
        yield return ("classifier", new ModelBundle
        {
            Model = new SequenceClassifier(new ClassifierConfig { Encoder = new EncoderConfig { VocabularySize = tok.Vocabulary.Count, EmbeddingDim = 2, HiddenSize = 2 }, Classes = 2 }, new Rng(1)),
            Tokenizer = tok, Labels = ["neg", "pos"], Metadata = new Dictionary<string, string> { ["config.task"] = "classify" },
        });
        yield return ("forecaster", new ModelBundle
        {
            Model = new Forecaster(new ForecasterConfig { Features = 1, Window = 3, Horizon = 1, HiddenSize = 2 }, new Standardizer([1f], [2f]), new Rng(2)),
        });
    }

    [Theory]
    [InlineData("\"model\":{", "\"modem\":{", "model: expected this required field, found none")]
    [InlineData("\"kind\":\"classifier\"", "\"kinx\":\"classifier\"", "model.kind: expected this required field, found none")]
    [InlineData("\"cell\":\"Lstm\"", "\"cell\":\"Lsxm\"", "model.encoder.cell: expected a value of this field's type, found \"Lsxm\"")]
    [InlineData("\"dropout\":0,", "\"dropout\":1,", "model.encoder.dropout: expected a valid model configuration, found: Dropout must be in [0, 1), found 1")]
    [InlineData("\"classes\":2", "\"clashes\":2", "model.classes: expected this required field, found none")]
    public void AChangedFieldIsNamed(string from, string to, string message)
    {
        using var d = new Recur.Tests.Data.TempDir();
        string path = Path.Combine(d.Path, "m.recur");
        ModelFile.Save(path, Models().First().Bundle);
        var st = SafeTensorsFile.Load(path);
        var meta = st.Metadata.ToDictionary(kv => kv.Key, kv => kv.Value);
        Assert.Contains(from, meta["recur"]);
        meta["recur"] = meta["recur"].Replace(from, to);
        SafeTensorsFile.Save(path, st.Names.Select(n => new KeyValuePair<string, Tensor>(n, st.ReadTensor(n))), meta);
        var e = Assert.Throws<RecurFormatException>(() => ModelFile.Load(path));
        Assert.Equal($"{path}: {message}", e.Message);
    }

    [Fact]
    public void EveryChangedHeaderByteGivesAnErrorNamingTheFileAndAField()
    {
        using var d = new Recur.Tests.Data.TempDir();
        var bad = new SortedSet<string>(StringComparer.Ordinal);
        int cases = 0;
        foreach (var (name, bundle) in Models())
        {
            string path = Path.Combine(d.Path, name + ".recur");
            ModelFile.Save(path, bundle);
            byte[] bytes = File.ReadAllBytes(path);
            int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            string source = name + ".recur";
            for (int i = 8; i < headerEnd; i++)
                foreach (byte change in new byte[] { 0x01, 0x20, 0x0F })
                {
                    var copy = (byte[])bytes.Clone();
                    copy[i] ^= change;
                    cases++;
                    try
                    {
                        ModelFile.Parse(copy, source);
                        // A change that keeps the file valid (none should: the checksum covers the configuration).
                        // (a hex digit of the checksum changing case still matches: it is compared case-insensitively)
                    }
                    catch (RecurFormatException e)
                    {
                        if (!e.Message.StartsWith(source + ": ", StringComparison.Ordinal) || e.Location.Length == 0 || DotNetText.Any(e.Message.Contains))
                            bad.Add(e.Message);
                    }
                    catch (Exception e)
                    {
                        bad.Add($"{e.GetType().Name}: {e.Message}");
                    }
                }
        }
        Assert.True(cases > 1000, $"only {cases} cases");
        Assert.True(bad.Count == 0, $"{bad.Count} bad messages:\n" + string.Join("\n", bad.Take(60)));
    }
}
