using System.Globalization;

namespace Recur.Cli.Data;

/// <summary>
/// One file of a dataset: where it lands in the cache (relative to CACHE/NAME, '/'-separated, the same layout as
/// ../shared/data/NAME), the bytes the project expects (size and SHA-256), and its canonical public address.
/// </summary>
/// <param name="Path">Path relative to the dataset folder, with '/' separators.</param>
/// <param name="Size">Expected length in bytes.</param>
/// <param name="Sha256">Expected SHA-256 of the file, lower-case hex.</param>
/// <param name="Url">Canonical public address, or null when only a mirror serves these bytes.</param>
/// <param name="ZipMember">When set, <paramref name="Url"/> is a zip archive and the file is this member of it.</param>
/// <param name="ArchiveMaxBytes">For a zip source: the most bytes the archive may have (a cap on the download).</param>
internal sealed record DataFile(string Path, long Size, string Sha256, string? Url, string? ZipMember = null, long ArchiveMaxBytes = 0);

/// <summary>A dataset <c>recur data fetch</c> knows: its files and where they come from.</summary>
/// <param name="Name">The name on the command line, also the folder name in the cache and in a mirror.</param>
/// <param name="Description">One line on what it is.</param>
/// <param name="License">The licence, as the source states it.</param>
/// <param name="Source">Where the bytes come from (repository and commit, or archive).</param>
/// <param name="MirrorOnly">
/// Why no public address serves the project's bytes (the shared copy is a repackaging), or null when every file has a
/// canonical <see cref="DataFile.Url"/>. Such a dataset is fetched only from a mirror.
/// </param>
/// <param name="Files">The files, in a fixed order.</param>
internal sealed record Dataset(string Name, string Description, string License, string Source, string? MirrorOnly, IReadOnlyList<DataFile> Files)
{
    /// <summary>Total bytes of all files.</summary>
    public long TotalBytes => Files.Sum(f => f.Size);
}

/// <summary>
/// The datasets <c>recur data fetch</c> downloads. The sizes and SHA-256 values are those of the copies in
/// ../shared/data, which the experiments read; a dataset with many files (FSDD) keeps them in a checked-in manifest
/// (Data/NAME.manifest, embedded in the tool).
/// </summary>
internal static class DatasetRegistry
{
    private const string CharRnn = "https://raw.githubusercontent.com/karpathy/char-rnn/6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e/data/tinyshakespeare/";
    private const string UciZip = "https://archive.ics.uci.edu/static/public/331/sentiment+labelled+sentences.zip";
    private const string Brownlee = "https://raw.githubusercontent.com/jbrownlee/Datasets/7041c0cc3d65519cf5af38b3afa82087a7d80748/";
    private const string Statsmodels = "https://raw.githubusercontent.com/statsmodels/statsmodels/v0.13.5/statsmodels/datasets/";

    private static readonly Lazy<IReadOnlyList<Dataset>> all = new(Build);

    /// <summary>Every known dataset, sorted by name.</summary>
    public static IReadOnlyList<Dataset> All => all.Value;

    /// <summary>The dataset called <paramref name="name"/>; an <see cref="ArgumentException"/> listing the known names otherwise.</summary>
    public static Dataset Get(string name) =>
        All.FirstOrDefault(d => string.Equals(d.Name, name, StringComparison.OrdinalIgnoreCase))
        ?? throw new ArgumentException($"unknown dataset '{name}'; known datasets: {string.Join(", ", All.Select(d => d.Name))}");

    private static IReadOnlyList<Dataset> Build() =>
    [
        new("eng-fra", "English-French sentence pairs (Tatoeba via manythings.org), for seq2seq translation",
            "CC BY 2.0 FR (Tatoeba; attribution manythings.org/anki and tatoeba.org)",
            "github.com/genimind/seq2seq fra-eng.zip @ 843b8bc40396fbea4ac9171097122aacfc8b9660",
            "fra.txt.gz is the project's repackaging of fra.txt from https://github.com/genimind/seq2seq/raw/843b8bc40396fbea4ac9171097122aacfc8b9660/fra-eng.zip (unzipped, then gzip -9 -n)",
            [
                new("_about.txt", 1_441, "359011f5738272138286287b44db215d184823911eb049da2160a6ac6933d6c9", null),
                new("fra.txt.gz", 2_941_514, "ec59d6aaba2103a1320330f39bec51dbebbb20cb6bbe9976bd16b0622c965a50", null),
            ]),
        new("fsdd", "Free Spoken Digit Dataset: 3,000 8 kHz recordings of spoken digits (6 speakers)",
            "CC BY-SA 4.0",
            "github.com/Jakobovski/free-spoken-digit-dataset recordings/ @ 26eb9aaf76e81b692f806f9140c2d2777410d7a1",
            "the .wav.gz files are the project's repackaging (each WAV compressed with gzip -9 -n) of https://github.com/Jakobovski/free-spoken-digit-dataset/tree/26eb9aaf76e81b692f806f9140c2d2777410d7a1/recordings",
            Manifest("fsdd")),
        new("timeseries", "Airline passengers (monthly), sunspots (yearly) and Mauna Loa CO2 (weekly) for forecasting",
            "airline: none stated (Box & Jenkins 1976); sunspots, co2: public domain",
            "github.com/jbrownlee/Datasets @ 7041c0cc; statsmodels 0.13.5 datasets",
            null,
            [
                new("airline-passengers.csv", 2_180, "8cb51be753a718d9be5d76d7e238cc224792754676adc21faa59e954b0201621", Brownlee + "airline-passengers.csv"),
                new("co2.csv", 33_974, "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f", Statsmodels + "co2/co2.csv"),
                new("sunspots.csv", 2_944, "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b", Statsmodels + "sunspots/sunspots.csv"),
            ]),
        new("tiny-shakespeare", "40,000 lines of Shakespeare (1.1 MB of ASCII), for character-level language models",
            "public domain text (the char-rnn repository has no licence file)",
            "github.com/karpathy/char-rnn data/tinyshakespeare @ 6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e",
            null,
            [new("input.txt", 1_115_394, "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed", CharRnn + "input.txt")]),
        new("uci-sentiment", "UCI Sentiment Labelled Sentences: 3 x 1,000 sentences (Amazon, IMDb, Yelp) labelled 0/1",
            "CC BY 4.0 (UCI repository; cite Kotzias et al., KDD 2015)",
            "UCI ML Repository dataset 331 (sentiment+labelled+sentences.zip)",
            null,
            [
                new("amazon_cells_labelled.txt", 58_226, "47003fc0a0d4840b00e96e715b6189bad09e7443a3da41c4cbe12ffc79f86ae3", UciZip, "sentiment labelled sentences/amazon_cells_labelled.txt", 4 << 20),
                new("imdb_labelled.txt", 85_285, "aef2e49e3da25714d61175e3a6e68eeef74a20a2f914318dc3be9947ea86512d", UciZip, "sentiment labelled sentences/imdb_labelled.txt", 4 << 20),
                new("yelp_labelled.txt", 61_320, "c76468b7b5c6e56a0804d728345c5f84aa2142ddb214420f61cc9cfd4c00d2ea", UciZip, "sentiment labelled sentences/yelp_labelled.txt", 4 << 20),
            ]),
    ];

    /// <summary>
    /// Reads the embedded manifest Data/NAME.manifest: '#' comment lines, then one 'sha256 size path' line per file.
    /// Its files have no canonical address (the dataset is mirror-only).
    /// </summary>
    private static List<DataFile> Manifest(string name)
    {
        string resource = $"Recur.Cli.Data.{name}.manifest";
        using var stream = typeof(DatasetRegistry).Assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"the tool is built without its {resource} resource");
        using var reader = new StreamReader(stream);
        var files = new List<DataFile>();
        int lineNo = 0;
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            lineNo++;
            if (line.Length == 0 || line[0] == '#') continue;
            var parts = line.Split(' ', 3);
            if (parts.Length != 3 || parts[0].Length != 64 || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long size))
                throw new InvalidDataException($"{resource} line {lineNo}: expected 'sha256 size path', found '{line}'");
            files.Add(new DataFile(parts[2], size, parts[0], null));
        }
        return files;
    }
}
