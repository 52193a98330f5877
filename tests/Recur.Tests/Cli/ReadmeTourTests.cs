using System.Text;
using Recur.Tests.Support;

namespace Recur.Tests.Cli;

/// <summary>
/// The README's tour ("Train on your own data") runs as written: its commands are extracted from README.md and run
/// against the built tool, from a fresh folder laid out like a clone (../shared beside it, tests/fixtures inside), with
/// one epoch and at most 200 examples per train, so the README cannot drift from the tool again (issue 11, item 7).
/// </summary>
public sealed class ReadmeTourTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("recur-tour-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    /// <summary>One tour command: the tool's arguments, the text piped into it (or null), and the README line it came from.</summary>
    public sealed record TourCommand(string[] Args, string? Stdin, string Line);

    /// <summary>The commands of the fenced bash blocks of README.md's "Train on your own data" section, in order.</summary>
    public static List<TourCommand> Extract(string readme)
    {
        int start = readme.IndexOf("\n## Train on your own data", StringComparison.Ordinal);
        Assert.True(start >= 0, "README.md has no '## Train on your own data' section");
        int end = readme.IndexOf("\n## ", start + 4, StringComparison.Ordinal);
        var lines = readme[start..(end < 0 ? readme.Length : end)].Split('\n');
        var commands = new List<TourCommand>();
        bool inBash = false;
        var pending = new StringBuilder();
        foreach (var raw in lines)
        {
            string line = raw.TrimEnd('\r');
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                Assert.True(pending.Length == 0, $"README tour: a '\\' continuation runs past the end of its block: {pending}");
                inBash = !inBash && line.Trim() == "```bash";
                continue;
            }
            if (!inBash) continue;
            string t = line.Trim();
            if (pending.Length == 0 && (t.Length == 0 || t.StartsWith('#'))) continue;
            if (t.EndsWith('\\')) { pending.Append(t[..^1]).Append(' '); continue; }
            pending.Append(t);
            commands.Add(Parse(pending.ToString()));
            pending.Clear();
        }
        return commands;
    }

    /// <summary>`recur ARGS` or `echo "TEXT" | recur ARGS`; anything else in the tour is an error (it could not run as written).</summary>
    private static TourCommand Parse(string line)
    {
        string? stdin = null;
        string command = line;
        int pipe = line.IndexOf(" | ", StringComparison.Ordinal);
        if (pipe >= 0)
        {
            var echo = Words(line[..pipe]);
            Assert.True(echo.Count >= 2 && echo[0] == "echo", $"README tour: expected `echo TEXT | recur ...`, found: {line}");
            stdin = string.Join(' ', echo.Skip(1)) + "\n";
            command = line[(pipe + 3)..];
        }
        var words = Words(command);
        Assert.True(words.Count >= 2 && words[0] == "recur", $"README tour: expected a `recur ...` command, found: {line}");
        return new TourCommand(words.Skip(1).ToArray(), stdin, line);
    }

    /// <summary>Splits a command line into words as a POSIX shell does for the tour's lines (spaces, "..." and '...').</summary>
    private static List<string> Words(string s)
    {
        var words = new List<string>();
        var w = new StringBuilder();
        bool any = false;
        for (int i = 0; i < s.Length; i++)
        {
            char c = s[i];
            if (c is '"' or '\'')
            {
                int close = s.IndexOf(c, i + 1);
                Assert.True(close > i, $"README tour: unmatched quote in: {s}");
                w.Append(s, i + 1, close - i - 1);
                i = close;
                any = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (any) { words.Add(w.ToString()); w.Clear(); any = false; }
            }
            else
            {
                Assert.True(c is not ('$' or '`' or '>' or '<' or ';' or '&' or '|'), $"README tour: '{c}' needs a shell; keep the tour to plain commands: {s}");
                w.Append(c);
                any = true;
            }
        }
        if (any) words.Add(w.ToString());
        return words;
    }

    /// <summary>Sets an option's value (replacing it when the command gives it, appending it otherwise).</summary>
    private static List<string> With(List<string> args, string option, string value)
    {
        int i = args.IndexOf(option);
        if (i >= 0 && i + 1 < args.Count) args[i + 1] = value;
        else { args.Add(option); args.Add(value); }
        return args;
    }

    private static string Readme => File.ReadAllText(Path.Combine(Repo.Root, "README.md"));

    [Fact]
    public void TheTourHasATrainLineForEveryTaskAndWritesOnlyUnderIgnoredFolders()
    {
        var commands = Extract(Readme);
        var trained = commands.Where(c => c.Args[0] == "train").Select(c => c.Args[Array.IndexOf(c.Args, "--task") + 1]).ToHashSet();
        foreach (var task in new[] { "classify", "tag", "lm", "seq2seq", "forecast", "audio", "music", "mlp" })
            Assert.True(trained.Contains(task), $"the README tour has no `recur train --task {task}` line");
        // Every file a tour command writes goes under runs/ or recur-runs/, which .gitignore covers.
        foreach (var c in commands)
            foreach (var (option, i) in c.Args.Select((a, i) => (a, i)))
                if (option is "--output" or "--json" or "--onnx" or "--midi" && i + 1 < c.Args.Length)
                    Assert.True(c.Args[i + 1].StartsWith("runs/", StringComparison.Ordinal), $"README tour writes {c.Args[i + 1]} outside runs/: {c.Line}");
        var ignored = File.ReadAllLines(Path.Combine(Repo.Root, ".gitignore")).Select(l => l.Trim()).ToHashSet();
        Assert.Contains("runs/", ignored);
        Assert.Contains("recur-runs/", ignored);
    }

    [Fact]
    public void TheExtractionJoinsContinuationsAndReadsPipes()
    {
        var commands = Extract("# Recur\n\n## Train on your own data\n\n```bash\n# a comment\nrecur train --task lm \\\n  --data \"a b.txt\" --output runs/x\n"
                               + "echo \"je suis content\" | recur translate --model runs/x/model.recur\n```\n\n```bash\nrecur inspect runs/x/model.recur\n```\n\n## Next\n\n```bash\nrecur not-in-the-tour\n```\n");
        Assert.Equal(3, commands.Count);
        Assert.Equal(["train", "--task", "lm", "--data", "a b.txt", "--output", "runs/x"], commands[0].Args);
        Assert.Null(commands[0].Stdin);
        Assert.Equal(["translate", "--model", "runs/x/model.recur"], commands[1].Args);
        Assert.Equal("je suis content\n", commands[1].Stdin);
        Assert.Equal(["inspect", "runs/x/model.recur"], commands[2].Args);
    }

    [Fact]
    public async Task EveryTourCommandRunsAsWritten()
    {
        var commands = Extract(Readme);
        Assert.True(commands.Count >= 15, $"expected the README tour's commands, found {commands.Count}");

        // A fresh folder laid out like a clone: the repository's tests/ (for the import fixture) and ../shared beside it.
        string repo = Path.Combine(root, "repo");
        Directory.CreateDirectory(repo);
        Directory.CreateSymbolicLink(Path.Combine(repo, "tests"), Path.Combine(Repo.Root, "tests"));
        bool shared = Directory.Exists(Path.Combine(Repo.Shared, "data"));
        if (shared) Directory.CreateSymbolicLink(Path.Combine(root, "shared"), Repo.Shared);

        var skipped = new List<string>();
        var skippedOutputs = new List<string>();
        foreach (var c in commands)
        {
            var args = c.Args.ToList();
            string? output = args.IndexOf("--output") is var o and >= 0 && o + 1 < args.Count ? args[o + 1] : null;
            if ((!shared && c.Line.Contains("../shared", StringComparison.Ordinal)) || skippedOutputs.Any(d => c.Line.Contains(d, StringComparison.Ordinal)))
            {
                skipped.Add(c.Line);
                if (output is not null) skippedOutputs.Add(output);
                continue;
            }
            if (args[0] == "train")
            {
                // Small limits: one epoch on at most 200 examples (the README's figures need the full runs).
                With(args, "--epochs", "1");
                With(args, "--max-rows", "200");
            }
            var (code, stdout, stderr) = await CliRunner.Run([.. args], null, repo, c.Stdin);
            Assert.True(code == 0, $"README tour line failed with exit {code}:\n{c.Line}\nran: recur {string.Join(' ', args)}\n{stdout}\n{stderr}");
            if (c.Stdin is not null) Assert.False(string.IsNullOrWhiteSpace(stdout), $"README tour line printed nothing: {c.Line}");
        }

        // Nothing lands in the repository root except the ignored run folders.
        var written = Directory.EnumerateFileSystemEntries(repo).Select(Path.GetFileName).Where(n => n != "tests").Order(StringComparer.Ordinal).ToList();
        Assert.All(written, n => Assert.True(n is "runs" or "recur-runs", $"the README tour wrote '{n}' into the repository root"));
        if (skipped.Count > 0)
            Assert.Skip($"../shared/data is absent (expected at {Path.Combine(Repo.Shared, "data")}); {skipped.Count} README tour lines were not run:\n" + string.Join('\n', skipped));
    }
}
