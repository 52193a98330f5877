using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Recur.Tests.Data;
using Recur.Tests.Support;

namespace Recur.Tests.Cli;

/// <summary>
/// <c>recur data fetch</c> end to end against a local HTTP server on 127.0.0.1 that serves ../shared/data as a
/// mirror (the machine has no internet). Tests that need the shared data skip, with a message, when it is absent.
/// </summary>
public class DataFetchTests
{
    private static string SharedData =>
        Directory.Exists(Path.Combine(Repo.Shared, "data"))
            ? Path.Combine(Repo.Shared, "data")
            : throw Skip();

    private static Exception Skip()
    {
        Assert.Skip($"../shared/data is absent (expected at {Path.Combine(Repo.Shared, "data")}); the fetch tests serve it as a mirror");
        return new InvalidOperationException();
    }

    [Fact]
    public async Task Fetch_downloads_checks_and_caches_then_a_second_fetch_downloads_nothing()
    {
        string shared = SharedData;
        using var server = new MirrorServer(shared);
        using var cache = new TempDir();

        var (code, stdout, stderr) = await Run("data", "fetch", "tiny-shakespeare", "uci-sentiment", "--mirror", server.Url, "--cache", cache.Path);
        Assert.True(code == 0, stderr + stdout);
        Assert.Equal(4, server.Requests);
        foreach (var (dataset, file) in new[] { ("tiny-shakespeare", "input.txt"), ("uci-sentiment", "amazon_cells_labelled.txt"),
                                                ("uci-sentiment", "imdb_labelled.txt"), ("uci-sentiment", "yelp_labelled.txt") })
            Assert.Equal(File.ReadAllBytes(Path.Combine(shared, dataset, file)), File.ReadAllBytes(Path.Combine(cache.Path, dataset, file)));
        Assert.Contains("tiny-shakespeare: 1 downloaded (1.1 MB), 0 cached", stdout);
        Assert.Contains("uci-sentiment: 3 downloaded", stdout);
        Assert.Contains($"{server.Url}/tiny-shakespeare/input.txt", stdout);
        Assert.Empty(Directory.GetFiles(cache.Path, "*.part", SearchOption.AllDirectories));

        (code, stdout, stderr) = await Run("data", "fetch", "tiny-shakespeare", "uci-sentiment", "--mirror", server.Url, "--cache", cache.Path);
        Assert.True(code == 0, stderr + stdout);
        Assert.Equal(4, server.Requests); // nothing asked of the server
        Assert.Contains("[1/1] input.txt: cached", stdout);
        Assert.Contains("tiny-shakespeare: 0 downloaded (0 B), 1 cached", stdout);
        Assert.Contains("uci-sentiment: 0 downloaded (0 B), 3 cached", stdout);
    }

    [Fact]
    public async Task A_damaged_cached_file_is_downloaded_again()
    {
        string shared = SharedData;
        using var server = new MirrorServer(shared);
        using var cache = new TempDir();
        Directory.CreateDirectory(Path.Combine(cache.Path, "tiny-shakespeare"));
        string target = Path.Combine(cache.Path, "tiny-shakespeare", "input.txt");
        var bytes = File.ReadAllBytes(Path.Combine(shared, "tiny-shakespeare", "input.txt"));
        var damaged = (byte[])bytes.Clone();
        damaged[12345] ^= 1; // same size, one bit off
        File.WriteAllBytes(target, damaged);

        var (code, stdout, stderr) = await Run("data", "fetch", "tiny-shakespeare", "--mirror", server.Url + "/", "--cache", cache.Path);
        Assert.True(code == 0, stderr + stdout);
        Assert.Equal(1, server.Requests);
        Assert.Contains("1 downloaded", stdout);
        Assert.Equal(bytes, File.ReadAllBytes(target));
    }

    [Theory]
    [InlineData(MirrorServer.Damage.FlipByte)]
    [InlineData(MirrorServer.Damage.Truncate)]
    [InlineData(MirrorServer.Damage.AppendHuge)]
    public async Task A_server_serving_wrong_bytes_gives_a_checksum_error_and_leaves_nothing_in_the_cache(MirrorServer.Damage damage)
    {
        using var server = new MirrorServer(SharedData) { Corrupt = damage };
        using var cache = new TempDir();

        var (code, stdout, stderr) = await Run("data", "fetch", "tiny-shakespeare", "--mirror", server.Url, "--cache", cache.Path);
        Assert.Equal(1, code);
        string url = $"{server.Url}/tiny-shakespeare/input.txt";
        Assert.StartsWith("recur: error: ", stderr);
        Assert.Contains(url, stderr);
        if (damage == MirrorServer.Damage.AppendHuge)
            Assert.Contains("more than the expected 1,115,394 bytes", stderr);
        else
        {
            Assert.Contains("checksum mismatch", stderr);
            Assert.Contains("expected sha256 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", stderr);
        }
        Assert.DoesNotContain("   at ", stderr);
        Assert.Empty(Directory.GetFileSystemEntries(cache.Path, "*", SearchOption.AllDirectories)); // no file, no temporary, no empty folder
        Assert.DoesNotContain("downloaded 1,115,394", stdout);
    }

    [Fact]
    public async Task An_http_error_names_the_url_and_status()
    {
        using var empty = new TempDir();
        using var server = new MirrorServer(empty.Path);
        using var cache = new TempDir();
        var (code, _, stderr) = await Run("data", "fetch", "timeseries", "--mirror", server.Url, "--cache", cache.Path);
        Assert.Equal(1, code);
        Assert.Contains($"recur: error: {server.Url}/timeseries/airline-passengers.csv: HTTP 404", stderr);
        Assert.Empty(Directory.GetFileSystemEntries(cache.Path, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task An_unknown_name_fails_before_downloading_and_lists_the_known_ones()
    {
        using var cache = new TempDir();
        var (code, stdout, stderr) = await Run("data", "fetch", "tiny-shakespeare", "imagenet", "--mirror", "http://127.0.0.1:9/", "--cache", cache.Path);
        Assert.Equal(1, code);
        Assert.Equal("", stdout);
        Assert.Contains("recur: error: unknown dataset 'imagenet'; known datasets: eng-fra, fsdd, timeseries, tiny-shakespeare, uci-sentiment", stderr);
        Assert.Empty(Directory.GetFileSystemEntries(cache.Path));
    }

    [Fact]
    public async Task A_repackaged_dataset_needs_a_mirror()
    {
        using var cache = new TempDir();
        var (code, _, stderr) = await Run("data", "fetch", "fsdd", "--cache", cache.Path);
        Assert.Equal(1, code);
        Assert.Contains("recur: error: fsdd has no canonical address for the project's bytes", stderr);
        Assert.Contains("--mirror", stderr);
    }

    [Fact]
    public async Task List_shows_every_dataset_with_size_licence_and_source()
    {
        var (code, stdout, stderr) = await Run("data", "list");
        Assert.True(code == 0, stderr);
        foreach (var name in new[] { "eng-fra", "fsdd", "timeseries", "tiny-shakespeare", "uci-sentiment" })
            Assert.Contains($"{name}: ", stdout);
        Assert.Contains("3,000 files, 15.8 MB; licence: CC BY-SA 4.0", stdout);
        Assert.Contains("1 file, 1.1 MB; licence: public domain", stdout);
        Assert.Contains("source: github.com/karpathy/char-rnn", stdout);
    }

    [Fact]
    public async Task The_other_small_datasets_fetch_from_a_folder_mirror_with_the_registry_checksums()
    {
        // A local folder works as a mirror too; this checks the registry's sizes and hashes for eng-fra and timeseries.
        string shared = SharedData;
        using var cache = new TempDir();
        var (code, stdout, stderr) = await Run("data", "fetch", "eng-fra", "timeseries", "--mirror", shared, "--cache", cache.Path);
        Assert.True(code == 0, stderr + stdout);
        foreach (var f in new[] { "eng-fra/fra.txt.gz", "eng-fra/_about.txt", "timeseries/airline-passengers.csv", "timeseries/co2.csv", "timeseries/sunspots.csv" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(shared, f)), File.ReadAllBytes(Path.Combine(cache.Path, f)));
    }

    [Fact]
    public void The_fsdd_manifest_matches_the_shared_recordings()
    {
        string dir = Repo.DataDir("fsdd") ?? throw Skip();
        string manifest = Path.Combine(Repo.Root, "src", "Recur.Cli", "Data", "fsdd.manifest");
        var entries = File.ReadLines(manifest).Where(l => l.Length > 0 && l[0] != '#').Select(l => l.Split(' ', 3)).ToList();
        var onDisk = Directory.GetFiles(Path.Combine(dir, "recordings")).Select(f => "recordings/" + Path.GetFileName(f)).Order(StringComparer.Ordinal).ToList();
        Assert.Equal(3000, entries.Count);
        Assert.Equal(onDisk, entries.Select(e => e[2]).ToList());
        foreach (var e in entries)
        {
            var bytes = File.ReadAllBytes(Path.Combine(dir, e[2]));
            Assert.Equal(long.Parse(e[1]), bytes.LongLength);
            Assert.Equal(e[0], Convert.ToHexStringLower(SHA256.HashData(bytes)));
        }
    }

    /// <summary>Runs the CLI with RECUR_DATA_MIRROR and RECUR_DATA_DIR removed, so the caller's environment cannot leak in.</summary>
    private static Task<(int ExitCode, string Stdout, string Stderr)> Run(params string[] args) =>
        CliRunner.Run(args, new Dictionary<string, string?> { ["RECUR_DATA_MIRROR"] = null, ["RECUR_DATA_DIR"] = null });
}

/// <summary>
/// A static-file HTTP server on 127.0.0.1 (a free port) for a folder, counting GET requests; it can damage what it
/// serves. Paths that leave the folder get 404.
/// </summary>
public sealed class MirrorServer : IDisposable
{
    /// <summary>How the served bytes are damaged.</summary>
    public enum Damage { None, FlipByte, Truncate, AppendHuge }

    private readonly HttpListener listener;
    private readonly string root;
    private readonly Task loop;
    private int requests;

    public MirrorServer(string root)
    {
        this.root = Path.GetFullPath(root);
        for (int attempt = 0; ; attempt++)
        {
            int port = FreePort();
            var l = new HttpListener();
            l.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                l.Start();
                listener = l;
                Url = $"http://127.0.0.1:{port}";
                break;
            }
            catch (HttpListenerException) when (attempt < 5) { l.Close(); }
        }
        loop = Task.Run(Serve);
    }

    /// <summary>The base address, without a trailing slash.</summary>
    public string Url { get; }

    /// <summary>GET requests answered so far.</summary>
    public int Requests => Volatile.Read(ref requests);

    public Damage Corrupt { get; init; }

    private static int FreePort()
    {
        var probe = new TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        int port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private async Task Serve()
    {
        while (listener.IsListening)
        {
            HttpListenerContext ctx;
            try { ctx = await listener.GetContextAsync(); }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException) { return; }
            try
            {
                Interlocked.Increment(ref requests);
                string rel = Uri.UnescapeDataString(ctx.Request.Url!.AbsolutePath).TrimStart('/');
                string path = Path.GetFullPath(Path.Combine(root, rel));
                if (!path.StartsWith(root + Path.DirectorySeparatorChar, StringComparison.Ordinal) || !File.Exists(path))
                {
                    ctx.Response.StatusCode = 404;
                    ctx.Response.Close();
                    continue;
                }
                var bytes = File.ReadAllBytes(path);
                switch (Corrupt)
                {
                    case Damage.FlipByte: bytes[bytes.Length / 2] ^= 0x20; break;
                    case Damage.Truncate: bytes = bytes[..^1]; break;
                    case Damage.AppendHuge: bytes = [.. bytes, .. new byte[4 << 20]]; break;
                }
                ctx.Response.ContentType = "application/octet-stream";
                if (Corrupt == Damage.AppendHuge) ctx.Response.SendChunked = true; // no Content-Length: the client must stop on its own
                else ctx.Response.ContentLength64 = bytes.Length;
                await ctx.Response.OutputStream.WriteAsync(bytes);
                ctx.Response.Close();
            }
            catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
            {
                // The client hung up (as it should on an oversized body).
                try { ctx.Response.Abort(); } catch (ObjectDisposedException) { }
            }
        }
    }

    public void Dispose()
    {
        listener.Stop();
        listener.Close();
        try { loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }
}
