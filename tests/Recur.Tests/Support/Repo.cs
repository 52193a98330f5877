namespace Recur.Tests.Support;

/// <summary>Locations of the repository and of the shared data beside it.</summary>
public static class Repo
{
    /// <summary>The repository root (the folder holding Recur.slnx), found by walking up from the test binaries.</summary>
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Recur.slnx"))) return dir.FullName;
        throw new InvalidOperationException($"cannot find Recur.slnx above {AppContext.BaseDirectory}");
    }

    /// <summary>../shared beside the repository.</summary>
    public static string Shared => Path.GetFullPath(Path.Combine(Root, "..", "shared"));

    /// <summary>The golden folder: RECUR_GOLDEN_DIR if set (relative paths from the repository root), else ../shared/golden.</summary>
    public static string GoldenDir
    {
        get
        {
            string? env = Environment.GetEnvironmentVariable("RECUR_GOLDEN_DIR");
            if (string.IsNullOrWhiteSpace(env)) return Path.Combine(Shared, "golden");
            return Path.GetFullPath(Path.IsPathRooted(env) ? env : Path.Combine(Root, env));
        }
    }

    /// <summary>A folder under ../shared/data, or null when the shared data is absent (as on a user's clone).</summary>
    public static string? DataDir(string name)
    {
        string dir = Path.Combine(Shared, "data", name);
        return Directory.Exists(dir) ? dir : null;
    }
}
