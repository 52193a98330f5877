using Recur.Fuzz;
using Recur.IO;
using Recur.Tests.Support;

namespace Recur.Tests.Fuzz;

/// <summary>
/// The regression run of the fuzzing corpus (fuzz/corpus/&lt;target&gt;/*: seeds, and every input that once crashed a
/// reader): each file goes through the same target code as the AFL++ harness (fuzz/Recur.Fuzz/Targets.cs), and may only
/// be accepted or rejected with a <see cref="RecurFormatException"/>, within a time bound.
/// </summary>
public class FuzzCorpusTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(5);

    private static string CorpusDir => Path.Combine(Repo.Root, "fuzz", "corpus");

    public static TheoryData<string> Inputs()
    {
        var data = new TheoryData<string>();
        foreach (var dir in Directory.GetDirectories(CorpusDir).Order(StringComparer.Ordinal))
            foreach (var file in Directory.GetFiles(dir).Order(StringComparer.Ordinal))
                data.Add($"{Path.GetFileName(dir)}/{Path.GetFileName(file)}");
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task InputIsAcceptedOrRejectedWithTheFormatError(string input)
    {
        string target = input[..input.IndexOf('/')];
        Assert.True(Targets.All.ContainsKey(target), $"fuzz/corpus/{target} is not a target of Targets.All");
        byte[] bytes = File.ReadAllBytes(Path.Combine(CorpusDir, input));
        // Any exception but RecurFormatException escapes Targets.Run and fails the test with its stack trace.
        var run = Task.Run(() => Targets.Run(target, bytes), TestContext.Current.CancellationToken);
        var first = await Task.WhenAny(run, Task.Delay(Bound, TestContext.Current.CancellationToken));
        Assert.True(first == run, $"{input}: still running after {Bound.TotalSeconds} s (a hang)");
        if (await run is { } error) Assert.StartsWith("fuzz", error); // the message names the input
    }

    [Fact]
    public void EveryTargetHasSeeds()
    {
        foreach (var target in Targets.All.Keys)
            Assert.NotEmpty(Directory.GetFiles(Path.Combine(CorpusDir, target)));
    }
}
