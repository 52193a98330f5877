namespace Recur;

/// <summary>
/// Writes files so that readers only ever see the old complete file or the new complete file: the content goes
/// to a temporary file in the same folder, is flushed to disk, and is then renamed over the target.
/// </summary>
public static class AtomicFile
{
    /// <summary>Suffix of the temporary files; a crash can leave one behind, never a half-written target.</summary>
    public const string TempSuffix = ".tmp-recur";

    /// <summary>
    /// Fault injection for crash-safety tests: when the environment variable <c>RECUR_FAULT_WRITE_DELAY_MS</c> holds a
    /// positive number, every write pauses that long after the temporary file is written and before it is renamed,
    /// widening the window in which a killed process leaves a temporary file behind. Read once per process.
    /// </summary>
    private static readonly int FaultDelayMs =
        int.TryParse(Environment.GetEnvironmentVariable("RECUR_FAULT_WRITE_DELAY_MS"), out int ms) && ms > 0 ? Math.Min(ms, 10_000) : 0;

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
            if (FaultDelayMs > 0) Thread.Sleep(FaultDelayMs);
            File.Move(temp, full, overwrite: true);
        }
        catch
        {
            try { File.Delete(temp); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }
}
