using System.Text.RegularExpressions;
using System.Xml.Linq;
using Recur.Tests.Support;

namespace Recur.Tests.Packaging;

/// <summary>
/// The library examples of README.md and of the package's own README (src/Recur/PACKAGE.md) are the code that
/// samples/QuickLibrary compiles and .ci/run runs against the packed Recur package, so none of them can drift; and the
/// sample asks for the version the build packs, and package validation has its baseline (docs/packaging.md).
/// </summary>
public sealed partial class ReadmeSampleTests
{
    private static string Read(params string[] parts) => File.ReadAllText(Path.Combine([Repo.Root, .. parts])).Replace("\r\n", "\n");

    /// <summary>The fenced blocks of a language in the section under <paramref name="heading"/> ("## ..."), each as its lines.</summary>
    public static List<string[]> Blocks(string markdown, string heading, string language)
    {
        int start = markdown.IndexOf("\n" + heading + "\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no '{heading}' section");
        int end = markdown.IndexOf("\n## ", start + heading.Length, StringComparison.Ordinal);
        var blocks = new List<string[]>();
        List<string>? current = null;
        foreach (var line in markdown[start..(end < 0 ? markdown.Length : end)].Split('\n'))
        {
            if (line.StartsWith("```", StringComparison.Ordinal))
            {
                if (current is not null) { blocks.Add([.. current]); current = null; }
                else if (line.Trim() == "```" + language) current = [];
                else current = null;
                continue;
            }
            current?.Add(line);
        }
        return blocks;
    }

    private static string[] TheOneBlock(string markdown, string heading, string language)
    {
        var blocks = Blocks(markdown, heading, language);
        Assert.True(blocks.Count == 1, $"'{heading}': expected one ```{language} block, found {blocks.Count}");
        return blocks[0];
    }

    /// <summary>Whether <paramref name="block"/>'s lines stand in <paramref name="file"/> consecutively, leading and trailing blanks aside.</summary>
    private static bool ContainsLines(string[] file, string[] block)
    {
        string[] f = [.. file.Select(l => l.Trim())], b = [.. block.Select(l => l.Trim())];
        for (int i = 0; i + b.Length <= f.Length; i++)
            if (f.AsSpan(i, b.Length).SequenceEqual(b)) return true;
        return false;
    }

    [Fact]
    public void The_application_example_is_the_start_of_the_sample_program()
    {
        string readme = Read("README.md");
        var block = TheOneBlock(readme, "## Use it from your application", "csharp");
        Assert.Contains("dotnet add package Recur", string.Join('\n', TheOneBlock(readme, "## Use it from your application", "bash")));
        Assert.Contains(block, l => l.Contains("ModelFile.Load(\"model.recur\")", StringComparison.Ordinal));
        string program = Read("samples", "QuickLibrary", "Program.cs");
        string expected = string.Join('\n', block) + "\n";
        Assert.True(program.StartsWith(expected, StringComparison.Ordinal),
            $"samples/QuickLibrary/Program.cs must begin with README.md's application example, as written:\n{expected}\nit begins:\n{program[..Math.Min(program.Length, expected.Length + 80)]}");
    }

    [Fact]
    public void The_first_library_example_runs_line_for_line_in_the_sample()
    {
        var block = TheOneBlock(Read("README.md"), "## A first look at the library", "csharp");
        string[] usings = [.. block.Where(l => UsingDirective().IsMatch(l))];
        string[] body = [.. block.Where(l => !UsingDirective().IsMatch(l)).SkipWhile(string.IsNullOrWhiteSpace)];
        Assert.True(usings.Length > 0 && body.Length > 3, "the README's first library example has its using lines, then its code");
        string[] sample = Read("samples", "QuickLibrary", "FirstLook.cs").Split('\n');
        foreach (var u in usings) Assert.Contains(u, sample);
        Assert.True(ContainsLines(sample, body), $"samples/QuickLibrary/FirstLook.cs must hold the README's first library example line for line:\n{string.Join('\n', body)}");
    }

    [Fact]
    public void The_package_readme_shows_the_same_examples_as_the_readme()
    {
        string readme = Read("README.md"), package = Read("src", "Recur", "PACKAGE.md");
        var shown = Blocks(package, "## Use a model trained by the `recur` tool", "csharp")
            .Concat(Blocks(package, "## The layers themselves", "csharp")).Select(b => string.Join('\n', b)).ToHashSet();
        Assert.Contains(string.Join('\n', TheOneBlock(readme, "## Use it from your application", "csharp")), shown);
        Assert.Contains(string.Join('\n', TheOneBlock(readme, "## A first look at the library", "csharp")), shown);
    }

    [Fact]
    public void The_sample_asks_for_the_packed_version_and_validation_has_its_baseline()
    {
        var props = XDocument.Parse(Read("src", "Directory.Build.props"));
        string? version = props.Descendants("VersionPrefix").SingleOrDefault()?.Value;
        Assert.True(version is not null && SemVer().IsMatch(version), $"src/Directory.Build.props: expected a VersionPrefix like 1.2.3, found '{version}'");

        var sample = XDocument.Parse(Read("samples", "QuickLibrary", "QuickLibrary.csproj"));
        var recur = sample.Descendants("PackageReference").SingleOrDefault(e => (string?)e.Attribute("Include") == "Recur");
        Assert.True(recur is not null, "samples/QuickLibrary/QuickLibrary.csproj has no PackageReference to Recur");
        Assert.Equal(version, (string?)recur.Attribute("Version"));
        Assert.Empty(sample.Descendants("ProjectReference"));

        var library = XDocument.Parse(Read("src", "Recur", "Recur.csproj"));
        Assert.Equal("true", library.Descendants("EnablePackageValidation").SingleOrDefault()?.Value);
        string? baseline = library.Descendants("RecurApiBaselineVersion").SingleOrDefault()?.Value;
        Assert.True(baseline is not null && SemVer().IsMatch(baseline), $"src/Recur/Recur.csproj: expected RecurApiBaselineVersion like 1.2.3, found '{baseline}'");
        string nupkg = Path.Combine(Repo.Root, "eng", "baseline", $"Recur.{baseline}.nupkg");
        Assert.True(File.Exists(nupkg), $"package validation's baseline {nupkg} is missing (eng/make-api-baseline.sh writes it)");
        Assert.True(new Version(baseline) <= new Version(version), $"the API baseline {baseline} is newer than the version packed, {version}");
    }

    [GeneratedRegex(@"^using [A-Za-z_][A-Za-z0-9_.]*;$")]
    private static partial Regex UsingDirective();

    [GeneratedRegex(@"^\d+\.\d+\.\d+$")]
    private static partial Regex SemVer();
}
