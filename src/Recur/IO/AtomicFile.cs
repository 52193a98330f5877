namespace Recur.IO;

/// <summary>
/// Writes files so that readers only ever see the old complete file or the new complete file: the content goes
/// to a temporary file in the same folder, is flushed to disk, and is then renamed over the target.
/// </summary>
public static class AtomicFile
{
    /// <summary>Suffix of the temporary files; a crash can leave one behind, never a half-written target.</summary>
    public const string TempSuffix = ".tmp-recur";

    /// <summary>Writes <paramref name="path"/> atomically with the bytes produced by <paramref name="write"/>.</summary>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string full = Path.GetFullPath(path);
        string dir = Path.GetDirectoryName(full) ?? ".";
        Directory.CreateDirectory(dir);
        string temp = Path.Combine(dir, $".{Path.GetFileName(full)}.{Environment.ProcessId}.{Guid.NewGuid():N}{TempSuffix}");
        try
        {
            using (var fs = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                write(fs);
                fs.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
