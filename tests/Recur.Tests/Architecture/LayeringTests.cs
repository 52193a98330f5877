using System.Text.RegularExpressions;
using Recur.Tests.Support;

namespace Recur.Tests.Architecture;

/// <summary>
/// The library's layering, read from its source: every <c>using Recur.X</c> and every qualified <c>Recur.X.</c>
/// reference in src/Recur must follow an arrow that <see cref="Allowed"/> declares (docs/architecture.md has the
/// same table, with the reasons). Pointers and hardware intrinsics live in Kernels alone, and the library's
/// messages never name a flag of the command-line tool.
/// </summary>
public partial class LayeringTests
{
    /// <summary>
    /// Each layer (a top-level folder of src/Recur, which is also its namespace; "Recur" is the root folder's base
    /// types) and the layers it may use. Anything not listed is forbidden, so an arrow upwards fails the test.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string[]> Allowed = new Dictionary<string, string[]>
    {
        ["Recur"] = [],
        ["Kernels"] = ["Recur"],
        ["Tensors"] = ["Recur", "Kernels"],
        ["Nn"] = ["Recur", "Kernels", "Tensors"],
        ["Optim"] = ["Recur", "Kernels", "Tensors"],
        ["Data"] = ["Recur", "Kernels", "Tensors"],
        ["Scoring"] = ["Recur", "Tensors", "Data"],
        ["Training"] = ["Recur", "Kernels", "Tensors", "Nn", "Optim", "Data", "Scoring"],
        ["Models"] = ["Recur", "Kernels", "Tensors", "Nn", "Optim", "Data", "Scoring"],
        ["IO"] = ["Recur", "Kernels", "Tensors", "Nn", "Optim", "Data", "Scoring", "Models"],
    };

    private static string LibraryRoot => Path.Combine(Repo.Root, "src", "Recur");

    /// <summary>Every C# source of the library (build outputs excluded), with its path relative to src/Recur.</summary>
    internal static IEnumerable<(string Relative, string Text)> Sources()
    {
        foreach (var path in Directory.EnumerateFiles(LibraryRoot, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string rel = Path.GetRelativePath(LibraryRoot, path).Replace('\\', '/');
            if (rel.StartsWith("obj/", StringComparison.Ordinal) || rel.StartsWith("bin/", StringComparison.Ordinal)) continue;
            yield return (rel, File.ReadAllText(path));
        }
    }

    /// <summary>The layer a namespace belongs to: "Recur" for the root, else its first segment after "Recur.".</summary>
    internal static string LayerOf(string ns)
    {
        if (ns == "Recur") return "Recur";
        string rest = ns["Recur.".Length..];
        int dot = rest.IndexOf('.');
        return dot < 0 ? rest : rest[..dot];
    }

    [GeneratedRegex(@"^namespace\s+(Recur(?:\.[A-Za-z]+)*)\s*[;{]", RegexOptions.Multiline)]
    private static partial Regex NamespaceDeclaration();

    [GeneratedRegex(@"\bRecur\.([A-Z][A-Za-z]*)\b")]
    private static partial Regex Reference();

    [GeneratedRegex(@"^\s*//.*$", RegexOptions.Multiline)]
    private static partial Regex DocComment();

    [Fact]
    public void Every_reference_between_layers_follows_a_declared_arrow()
    {
        var violations = new List<string>();
        int files = 0;
        foreach (var (rel, text) in Sources())
        {
            files++;
            var decl = NamespaceDeclaration().Match(text);
            // A file with no namespace (assembly attributes, global usings) belongs to the root.
            string ns = decl.Success ? decl.Groups[1].Value : "Recur";
            string layer = LayerOf(ns);
            string folder = rel.Contains('/') ? rel[..rel.IndexOf('/')] : "Recur";
            if (folder != layer) violations.Add($"{rel}: namespace {ns} is not the folder's ({folder})");
            Assert.True(Allowed.ContainsKey(layer), $"{rel}: layer '{layer}' is not declared in the layering table");

            // Comments may mention any type (a cref is not a dependency of the compiled code); code may not.
            string code = DocComment().Replace(text, "");
            foreach (Match m in Reference().Matches(code))
            {
                string target = m.Groups[1].Value;
                if (target == layer || !Allowed.ContainsKey(target)) continue;  // own layer, or a type in the root namespace
                if (!Allowed[layer].Contains(target))
                {
                    int line = code[..m.Index].Count(c => c == '\n') + 1;
                    violations.Add($"{rel}:{line}: {layer} -> {target} ('{m.Value}') is not a declared arrow");
                }
            }
        }
        Assert.True(files > 50, $"expected the library's sources under {LibraryRoot}, found {files} files");
        Assert.True(violations.Count == 0, "layering violations:\n" + string.Join("\n", violations));
    }

    /// <summary>The checker itself can fail: an upward reference planted in a source is reported.</summary>
    [Fact]
    public void An_upward_reference_is_reported()
    {
        Assert.DoesNotContain("Models", Allowed["Nn"]);
        Assert.Contains("Tensors", Allowed["Nn"]);
        var m = Reference().Matches("namespace Recur.Nn;\nusing Recur.Models;\nvar x = Recur.Training.Trainer.X;");
        Assert.Equal(["Nn", "Models", "Training"], m.Select(x => x.Groups[1].Value));
        Assert.Equal("IO", LayerOf("Recur.IO.Onnx"));
        Assert.Equal("Recur", LayerOf("Recur"));
    }

    /// <summary>
    /// MPI lives in its own assembly, src/Recur.Distributed, beside the CLI: the core library never references it nor
    /// any native library, and Recur.Distributed uses only the trainer's seam (<c>Recur.Training.IGradientSynchronizer</c>).
    /// </summary>
    [Fact]
    public void MPI_lives_in_Recur_Distributed_which_the_core_never_references()
    {
        var found = new List<string>();
        foreach (var (rel, text) in Sources())
        {
            string code = DocComment().Replace(text, "");
            foreach (var word in new[] { "Recur.Distributed", "libmpi", "DllImport", "LibraryImport", "NativeLibrary" })
                if (code.Contains(word, StringComparison.Ordinal)) found.Add($"{rel}: {word}");
        }
        Assert.True(found.Count == 0, "the core library reaches for MPI or native code:\n" + string.Join("\n", found));
        Assert.DoesNotContain("Recur.Distributed", File.ReadAllText(Path.Combine(LibraryRoot, "Recur.csproj")));

        string distributed = Path.Combine(Repo.Root, "src", "Recur.Distributed");
        var files = Directory.EnumerateFiles(distributed, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/") && !f.Contains("/bin/")).ToList();
        Assert.NotEmpty(files);
        foreach (var f in files)
        {
            string code = DocComment().Replace(File.ReadAllText(f), "");
            foreach (Match m in Reference().Matches(code))
                Assert.True(m.Groups[1].Value is "Training" or "Distributed", $"{Path.GetFileName(f)}: Recur.Distributed may use the trainer's seam only, found '{m.Value}'");
        }
    }

    [GeneratedRegex(@"\bunsafe\b|System\.Runtime\.Intrinsics|\bstackalloc\s+\w+\*|\bfloat\s*\*|\bdouble\s*\*|\bint\s*\*")]
    private static partial Regex PointerCode();

    /// <summary>
    /// Files with pointer code outside Kernels/ that are still to move there. Empty since the engine's core moved to
    /// Kernels/Recurrent (issue "One direction of flow", step 2); it must stay empty. A file on it that no longer has
    /// pointer code fails the test too.
    /// </summary>
    private static readonly string[] StillToMove = [];

    [Fact]
    public void Pointers_and_intrinsics_live_in_Kernels_only()
    {
        var outside = new List<string>();
        foreach (var (rel, text) in Sources())
        {
            if (rel.StartsWith("Kernels/", StringComparison.Ordinal)) continue;
            if (StillToMove.Contains(rel))
            {
                if (!PointerCode().IsMatch(DocComment().Replace(text, ""))) outside.Add($"{rel}: has no pointer code any more; take it off StillToMove");
                continue;
            }
            string code = DocComment().Replace(text, "");
            var m = PointerCode().Match(code);
            if (m.Success) outside.Add($"{rel}:{code[..m.Index].Count(c => c == '\n') + 1}: '{m.Value}'");
        }
        Assert.True(outside.Count == 0, "pointer or intrinsic code outside Kernels/:\n" + string.Join("\n", outside));
    }

    [GeneratedRegex("\"(?:[^\"\\\\]|\\\\.)*\"")]
    private static partial Regex StringLiteral();

    [GeneratedRegex(@"(?<![\w-])--[a-z][a-z-]+|\brecur (?:train|import|predict|evaluate|export|generate|translate|inspect|data)\b")]
    private static partial Regex CliWords();

    [Fact]
    public void The_library_never_names_a_command_line_flag_in_its_messages()
    {
        var found = new List<string>();
        foreach (var (rel, text) in Sources())
        {
            string code = DocComment().Replace(text, "");
            foreach (Match s in StringLiteral().Matches(code))
                if (CliWords().Match(s.Value) is { Success: true } w)
                    found.Add($"{rel}:{code[..s.Index].Count(c => c == '\n') + 1}: {w.Value} in {s.Value}");
        }
        Assert.True(found.Count == 0, "library strings that speak of the CLI:\n" + string.Join("\n", found));
        Assert.Matches(CliWords(), "\"use --header yes\"");
    }
}
