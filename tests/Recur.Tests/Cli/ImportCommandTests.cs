using System.Text.Json;
using Recur.IO;
using Recur.Models;

namespace Recur.Tests.Cli;

/// <summary>`recur import --torch`: a PyTorch text classifier (PyTorch-written fixture) becomes a usable model file.</summary>
public sealed class ImportCommandTests : IDisposable
{
    private readonly string dir = Directory.CreateTempSubdirectory("recur-import-").FullName;

    public void Dispose() => Directory.Delete(dir, recursive: true);

    [Fact]
    public async Task ATorchTextClassifierImportsAndPredictsLikeTheLibraryImport()
    {
        string fixture = Path.Combine(Support.Repo.Root, "tests", "fixtures", "torch_text_classifier.safetensors");
        string vocab = Path.Combine(dir, "vocab.txt");
        File.WriteAllLines(vocab, ["<pad>", "<unk>", .. Enumerable.Range(2, 28).Select(i => $"w{i}")]);
        string model = Path.Combine(dir, "imported.recur");
        var (code, stdout, stderr) = await CliRunner.Run("import", "--torch", fixture, "--output", model, "--vocab", vocab, "--labels", "neg,neutral,pos");
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        Assert.Contains("'lstm.'", stdout);

        var bundle = ModelFile.Load(model);
        Assert.IsType<SequenceClassifier>(bundle.Model);
        Assert.Equal(["neg", "neutral", "pos"], bundle.Labels);

        // The command-line prediction equals the library's on the directly imported model.
        var direct = (SequenceClassifier)TorchImport.Import(fixture).Model;
        direct.Training = false;
        var p = direct.Predict(SequenceBatch.FromTokens([[3, 5, 7, 11]], [0])).ToArray();
        string input = Path.Combine(dir, "in.txt");
        File.WriteAllText(input, "w3 w5 w7 w11\n");
        (code, stdout, stderr) = await CliRunner.Run("predict", "--model", model, "--input", input, "--format", "jsonl");
        Assert.True(code == 0, $"exit {code}\n{stdout}\n{stderr}");
        using var row = JsonDocument.Parse(stdout.Trim());
        var probs = row.RootElement.GetProperty("probabilities");
        Assert.Equal(p[0], probs.GetProperty("neg").GetDouble(), 5);
        Assert.Equal(p[2], probs.GetProperty("pos").GetDouble(), 5);

        (code, _, stderr) = await CliRunner.Run("import", "--torch", fixture, "--output", model, "--labels", "a,b");
        Assert.Equal(1, code);
        Assert.Contains("--labels: expected 3 names for the head's outputs, found 2", stderr);
    }
}
