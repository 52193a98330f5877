using System.Globalization;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;

namespace Recur.Cli.Data;

/// <summary>The outcome of fetching one dataset.</summary>
/// <param name="Folder">CACHE/NAME, where the files are.</param>
/// <param name="Downloaded">Files fetched this time.</param>
/// <param name="Cached">Files already present with the right checksum.</param>
/// <param name="BytesDownloaded">Bytes fetched this time.</param>
internal sealed record FetchResult(string Folder, int Downloaded, int Cached, long BytesDownloaded);

/// <summary>
/// Downloads a dataset's files into a cache and checks each against its size and SHA-256. A file is written to a
/// temporary name beside its destination and renamed only when its checksum matches, so the cache never holds a
/// partial or wrong file; a file already there with the right checksum is not fetched again.
/// </summary>
/// <remarks>
/// Sources: without a mirror, each file's canonical address (a dataset whose files are a repackaging has none and
/// needs a mirror). A mirror is a base address laid out like ../shared/data: the file is MIRROR/NAME/PATH. It is
/// an http(s) URL, a file:// URL or a local folder. No download may exceed the expected size: the transfer stops as
/// soon as it does.
/// </remarks>
internal sealed class DataFetcher(string cacheRoot, string? mirror, TimeSpan timeout, TextWriter log) : IDisposable
{
    private readonly HttpClient http = CreateClient();
    private readonly Dictionary<string, byte[]> archives = new(StringComparer.Ordinal);

    /// <summary>The cache folder: RECUR_DATA_DIR, else $XDG_CACHE_HOME/recur/data, else ~/.cache/recur/data.</summary>
    public static string DefaultCache()
    {
        string? dir = Environment.GetEnvironmentVariable("RECUR_DATA_DIR");
        if (!string.IsNullOrWhiteSpace(dir)) return dir;
        string? xdg = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
        if (string.IsNullOrWhiteSpace(xdg) || !Path.IsPathRooted(xdg))
            xdg = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
        return Path.Combine(xdg, "recur", "data");
    }

    /// <summary>Fetches every file of <paramref name="dataset"/> that the cache lacks, printing a line per file (or per 100 for big sets).</summary>
    public FetchResult Fetch(Dataset dataset)
    {
        RequireSource(dataset, mirror);
        string folder = Path.GetFullPath(Path.Combine(cacheRoot, dataset.Name));
        int n = dataset.Files.Count, downloaded = 0, cached = 0;
        long bytes = 0;
        bool perFile = n <= 20;
        log.WriteLine($"{dataset.Name}: {Plural(n, "file")}, {FormatBytes(dataset.TotalBytes)}, from {mirror ?? "the canonical addresses"} into {folder}");
        for (int i = 0; i < n; i++)
        {
            var file = dataset.Files[i];
            string dest = Destination(folder, file.Path);
            bool have = IsValid(dest, file);
            if (have) cached++;
            else
            {
                string source = Fetch(dataset, file, dest);
                downloaded++;
                bytes += file.Size;
                if (perFile) log.WriteLine($"  [{i + 1}/{n}] {file.Path}: downloaded {file.Size.ToString("N0", CultureInfo.InvariantCulture)} bytes from {source}");
            }
            if (have && perFile) log.WriteLine($"  [{i + 1}/{n}] {file.Path}: cached");
            if (!perFile && ((i + 1) % 100 == 0 || i + 1 == n))
                log.WriteLine($"  [{i + 1}/{n}] {downloaded} downloaded ({FormatBytes(bytes)}), {cached} cached");
        }
        log.WriteLine($"{dataset.Name}: {downloaded} downloaded ({FormatBytes(bytes)}), {cached} cached, in {folder}");
        return new FetchResult(folder, downloaded, cached, bytes);
    }

    /// <summary>Fails when <paramref name="dataset"/> has no canonical address and no mirror is given.</summary>
    public static void RequireSource(Dataset dataset, string? mirror)
    {
        if (mirror is null && dataset.MirrorOnly is not null)
            throw new ArgumentException($"{dataset.Name} has no canonical address for the project's bytes: {dataset.MirrorOnly}. " +
                                        "Fetch it from a mirror laid out like ../shared/data with --mirror URL or RECUR_DATA_MIRROR");
    }

    /// <summary>True when <paramref name="path"/> exists with the expected size and SHA-256.</summary>
    public static bool IsValid(string path, DataFile file)
    {
        var info = new FileInfo(path);
        if (!info.Exists || info.Length != file.Size) return false;
        using var s = info.OpenRead();
        return Convert.ToHexStringLower(SHA256.HashData(s)) == file.Sha256;
    }

    private static string Destination(string folder, string relative)
    {
        string dest = Path.GetFullPath(Path.Combine(folder, relative.Replace('/', Path.DirectorySeparatorChar)));
        if (!dest.StartsWith(folder + Path.DirectorySeparatorChar, StringComparison.Ordinal))
            throw new ArgumentException($"dataset path '{relative}' leaves the dataset folder");
        return dest;
    }

    /// <summary>Fetches one file into <paramref name="dest"/> through a temporary file; returns where it came from.</summary>
    private string Fetch(Dataset dataset, DataFile file, string dest)
    {
        string dir = Path.GetDirectoryName(dest)!;
        bool created = !Directory.Exists(dir);
        Directory.CreateDirectory(dir);
        string temp = $"{dest}.{Guid.NewGuid():N}.part";
        string source;
        try
        {
            using (var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            using (var hashing = new HashingStream(output))
            {
                if (mirror is not null) source = CopyFromMirror(dataset, file, hashing);
                else if (file.ZipMember is not null) source = CopyFromZip(file, hashing);
                else source = CopyFromUrl(file.Url!, file.Size, hashing);
                string found = hashing.Sha256();
                if (hashing.Length != file.Size || found != file.Sha256)
                    throw new InvalidDataException($"checksum mismatch for {source}: expected sha256 {file.Sha256} ({file.Size:N0} bytes), " +
                                                   $"found {found} ({hashing.Length:N0} bytes); nothing was written to the cache");
            }
            File.Move(temp, dest, overwrite: true);
            return source;
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
            // Leave no empty folder behind a failed first download.
            if (created && !Directory.EnumerateFileSystemEntries(dir).Any()) Directory.Delete(dir);
        }
    }

    private string CopyFromMirror(Dataset dataset, DataFile file, HashingStream output)
    {
        string relative = dataset.Name + "/" + file.Path;
        if (Uri.TryCreate(mirror, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            string url = mirror!.TrimEnd('/') + "/" + string.Join('/', relative.Split('/').Select(Uri.EscapeDataString));
            return CopyFromUrl(url, file.Size, output);
        }
        string root = uri is { IsFile: true } ? uri.LocalPath : mirror!;
        string path = Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file in the mirror {mirror}");
        using var input = File.OpenRead(path);
        Copy(input, output, path, file.Size);
        return path;
    }

    private string CopyFromUrl(string url, long maxBytes, Stream output)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, url);
            using var response = http.Send(request, HttpCompletionOption.ResponseHeadersRead, cts.Token);
            if (!response.IsSuccessStatusCode)
                throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
            if (response.Content.Headers.ContentLength is long announced && announced > maxBytes)
                throw new InvalidDataException($"{url}: the server announces {announced:N0} bytes, more than the expected {maxBytes:N0}; not downloaded");
            using var input = response.Content.ReadAsStream(cts.Token);
            Copy(input, output, url, maxBytes, cts.Token);
            return url;
        }
        catch (OperationCanceledException) when (cts.IsCancellationRequested)
        {
            throw new IOException($"{url}: no complete answer within {timeout.TotalSeconds:0.#} s (--timeout)");
        }
        catch (Exception e) when (e is HttpRequestException or IOException)
        {
            // Connection refused, DNS, TLS, an HTTP error status, a reset in the middle of the body.
            throw new IOException($"{url}: {e.Message}", e);
        }
    }

    private string CopyFromZip(DataFile file, Stream output)
    {
        string url = file.Url!;
        if (!archives.TryGetValue(url, out var zip))
        {
            using var buffer = new MemoryStream();
            CopyFromUrl(url, file.ArchiveMaxBytes, buffer);
            archives[url] = zip = buffer.ToArray();
        }
        using var archive = new ZipArchive(new MemoryStream(zip), ZipArchiveMode.Read);
        var entry = archive.GetEntry(file.ZipMember!)
                    ?? throw new InvalidDataException($"{url}: the archive has no member '{file.ZipMember}'");
        using var input = entry.Open();
        Copy(input, output, $"{url} ({file.ZipMember})", file.Size);
        return $"{url} ({file.ZipMember})";
    }

    /// <summary>Copies at most <paramref name="maxBytes"/> bytes; one more means the source is not the expected file.</summary>
    private static void Copy(Stream input, Stream output, string source, long maxBytes, CancellationToken ct = default)
    {
        var buffer = new byte[81920];
        long total = 0;
        for (int read; (read = input.ReadAsync(buffer, ct).AsTask().GetAwaiter().GetResult()) > 0;)
        {
            total += read;
            if (total > maxBytes)
                throw new InvalidDataException($"{source}: more than the expected {maxBytes:N0} bytes; stopped the download and kept nothing");
            output.Write(buffer, 0, read);
        }
    }

    private static HttpClient CreateClient()
    {
        var client = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = Timeout.InfiniteTimeSpan, // each request has its own deadline (--timeout)
        };
        client.DefaultRequestHeaders.UserAgent.ParseAdd($"recur/{typeof(DataFetcher).Assembly.GetName().Version} (+recur data fetch)");
        return client;
    }

    internal static string FormatBytes(long n) => n switch
    {
        < 1_000 => $"{n} B",
        < 1_000_000 => (n / 1e3).ToString("0.#", CultureInfo.InvariantCulture) + " kB",
        < 1_000_000_000 => (n / 1e6).ToString("0.#", CultureInfo.InvariantCulture) + " MB",
        _ => (n / 1e9).ToString("0.##", CultureInfo.InvariantCulture) + " GB",
    };

    internal static string Plural(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n:N0} {noun}s";

    public void Dispose() => http.Dispose();

    /// <summary>A write-only stream that hashes what passes through it to the inner stream.</summary>
    private sealed class HashingStream(Stream inner) : Stream
    {
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private long length;
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => length;
        public override long Position { get => length; set => throw new NotSupportedException(); }
        public override void Write(byte[] buffer, int offset, int count)
        {
            hash.AppendData(buffer, offset, count);
            inner.Write(buffer, offset, count);
            length += count;
        }
        public string Sha256() => Convert.ToHexStringLower(hash.GetCurrentHash());
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            if (disposing) hash.Dispose();
            base.Dispose(disposing);
        }
    }
}
