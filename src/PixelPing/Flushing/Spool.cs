using System.Globalization;
using Microsoft.Win32.SafeHandles;
using PixelPing.Interop;

namespace PixelPing.Flushing;

internal enum SpoolLoadStatus : byte
{
    /// <summary>No spool file: a first start, or everything was delivered.</summary>
    Missing,
    Loaded,

    /// <summary>The file exists but cannot be trusted: truncated, altered, or not a spool file at all.</summary>
    Corrupt,
}

/// <summary>
/// The spool file: every batch taken from memory that the endpoint has not accepted yet, so that a restart sends it
/// again with its original id. Its contents are <see cref="SpoolFormat"/>'s; this type does the file operations.
/// </summary>
/// <remarks>
/// Writes are atomic (temporary file, fsync, rename over the old file, fsync of the directory), so a crash at any
/// point leaves either the old complete file or the new complete file. The file is the user's alone (mode 0600), and
/// no link at either path is ever followed: the file holds every key, and a link planted beside it must not turn a
/// flush into a write to some other file.
/// </remarks>
internal sealed class Spool
{
    private readonly Lock _writeLock = new();
    private bool _closed;

    // The ids of the batches in the file as this process last wrote or loaded it: what a failed save leaves behind.
    private HashSet<string> _onDisk = [];

    public Spool(string path)
    {
        Path = LogEscape.Text(path);
        FullPath = System.IO.Path.GetFullPath(path);
        Directory = System.IO.Path.GetDirectoryName(FullPath) ?? "/";
    }

    /// <summary>The path as configured, escaped for a log line (what log lines show).</summary>
    public string Path { get; }

    public string FullPath { get; }

    public string Directory { get; }

    /// <summary>
    /// Replaces the file with these batches, atomically; with none, removes the file. Returns false and one line of
    /// reason when the disk refused (full, read-only, the directory gone): the caller logs it and carries on.
    /// </summary>
    public bool TrySave(IReadOnlyList<Batch> batches, out string error)
    {
        // One writer at a time: the flush loop and the exit path of a second stop signal may both save.
        lock (_writeLock)
        {
            if (_closed)
            {
                error = "the process is exiting and has written its last spool file";
                return false;
            }

            return TrySaveLocked(batches, out error);
        }
    }

    /// <summary>Whether the file holds the batch with this id (as this process last wrote or loaded it).</summary>
    public bool Holds(string id)
    {
        lock (_writeLock)
        {
            return _onDisk.Contains(id);
        }
    }

    /// <summary>Saves these batches, then refuses every later save: what the process leaves behind when it exits.</summary>
    public bool TrySaveLast(IReadOnlyList<Batch> batches, out string error)
    {
        lock (_writeLock)
        {
            _closed = true;
            return TrySaveLocked(batches, out error);
        }
    }

    private bool TrySaveLocked(IReadOnlyList<Batch> batches, out string error)
    {
        error = "";
        string temporary = FullPath + ".tmp";
        try
        {
            if (batches.Count == 0)
            {
                File.Delete(FullPath);
                _onDisk = [];
                return true;
            }

            using (FileStream file = CreateTemporary(temporary))
            {
                SpoolFormat.Write(batches, file);
                // fsync before the rename: the new name must never point at data still only in the page cache.
                file.Flush(flushToDisk: true);
            }

            // rename(2) replaces the directory entry: a link planted at the spool path is replaced, never written through.
            File.Move(temporary, FullPath, overwrite: true);
            _onDisk = [.. batches.Select(static b => b.Id)];
            SyncDirectory(Directory);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            try
            {
                File.Delete(temporary);
            }
            catch (Exception cleanup) when (cleanup is IOException or UnauthorizedAccessException)
            {
            }

            // A path that is a directory, or a directory gone or not writable, is said as such; the exception's own
            // words for a rename over a directory are "permission denied", which sends the reader the wrong way.
            error = CheckDirectory() ?? ErrorText.Of(e);
            return false;
        }
    }

    /// <summary>
    /// The temporary file, new and ours alone: a stale one (a crash mid-write, or a link someone planted there) is
    /// unlinked first, which removes a link itself and never what it points to; then the file is created exclusively
    /// (O_EXCL: nothing may have appeared meanwhile), not through a link (O_NOFOLLOW), readable by this user only.
    /// </summary>
    private static FileStream CreateTemporary(string temporary)
    {
        File.Delete(temporary);
        int fd = Libc.open(Libc.Path(temporary),
            Libc.O_WRONLY | Libc.O_CREAT | Libc.O_EXCL | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, FileMode0600);
        if (fd < 0)
        {
            throw new IOException($"cannot create {temporary}: {Libc.Describe(Libc.Errno)}");
        }

        return new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Write, 1 << 16);
    }

    /// <summary>
    /// Why the spool file could not be written where it is configured, or null when it can: the path must not be a
    /// directory, and its directory must exist and be writable by this process (checked by <c>--check</c> and at start, before the first save needs it).
    /// </summary>
    public string? CheckDirectory()
    {
        if (System.IO.Directory.Exists(FullPath))
        {
            return $"{Path} is a directory, not a file path; undelivered hits cannot be saved";
        }

        if (!System.IO.Directory.Exists(Directory))
        {
            return $"the directory of {Path} does not exist; undelivered hits cannot be saved";
        }

        if (Libc.access(Libc.Path(Directory), Libc.W_OK | Libc.X_OK) != 0)
        {
            return $"the directory of {Path} is not writable by this process ({Libc.Describe(Libc.Errno)}); undelivered hits cannot be saved";
        }

        return null;
    }

    /// <summary>Reads the file. Never throws: an unreadable or inconsistent file is <see cref="SpoolLoadStatus.Corrupt"/>.</summary>
    public SpoolLoadStatus Load(out List<Batch> batches, out string problem)
    {
        batches = [];
        problem = "";
        // Not through a link: a link planted at the spool path is refused (and moved aside), never read or followed.
        int fd = Libc.open(Libc.Path(FullPath), Libc.O_RDONLY | Libc.O_NOFOLLOW | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            int errno = Libc.Errno;
            if (errno is Libc.ENOENT or Libc.ENOTDIR)
            {
                return SpoolLoadStatus.Missing;
            }

            problem = errno == Libc.ELOOP ? "it is a symbolic link, not a file" : "cannot open it: " + Libc.Describe(errno);
            return SpoolLoadStatus.Corrupt;
        }

        var file = new FileStream(new SafeFileHandle(fd, ownsHandle: true), FileAccess.Read, 1 << 16);

        using (file)
        {
            try
            {
                long savedAt = new DateTimeOffset(File.GetLastWriteTimeUtc(file.SafeFileHandle)).ToUnixTimeSeconds();
                if (SpoolFormat.TryRead(file, batches, out problem, savedAt))
                {
                    lock (_writeLock)
                    {
                        _onDisk = [.. batches.Select(static b => b.Id)];
                    }

                    return SpoolLoadStatus.Loaded;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                problem = "cannot read it: " + ErrorText.Of(e);
            }

            batches.Clear();
            return SpoolLoadStatus.Corrupt;
        }
    }

    /// <summary>
    /// Renames a corrupt file to <c>&lt;path&gt;.corrupt-&lt;UTC time&gt;</c> (never over an older one) so that it is
    /// kept for a person to look at and is not overwritten by the next save. Returns the new path, or null and why not.
    /// </summary>
    public string? MoveAside(DateTime utcNow, out string error)
    {
        error = "";
        string stem = FullPath + ".corrupt-" + utcNow.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        for (int attempt = 0; attempt < 100; attempt++)
        {
            string target = attempt == 0 ? stem : stem + "-" + attempt.ToString(CultureInfo.InvariantCulture);
            if (File.Exists(target))
            {
                continue;
            }

            try
            {
                File.Move(FullPath, target, overwrite: false);
                SyncDirectory(Directory);
                return target;
            }
            catch (IOException) when (File.Exists(target))
            {
                // Someone else took the name between the check and the move: try the next one.
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                error = ErrorText.Of(e);
                return null;
            }
        }

        error = "too many corrupt spool files beside it";
        return null;
    }

    /// <summary>
    /// fsync of the directory, so that the rename itself survives a power cut (rename(2) is atomic but, until the
    /// directory is synced, not durable). .NET cannot open a directory as a file, hence the three libc calls.
    /// </summary>
    private static void SyncDirectory(string directory)
    {
        int fd = Libc.open(Libc.Path(directory), Libc.O_RDONLY | Libc.O_DIRECTORY | Libc.O_CLOEXEC, 0);
        if (fd < 0)
        {
            throw new IOException($"cannot open directory {directory} to sync it: {Libc.Describe(Libc.Errno)}");
        }

        try
        {
            if (Libc.fsync(fd) != 0)
            {
                throw new IOException($"cannot sync directory {directory}: {Libc.Describe(Libc.Errno)}");
            }
        }
        finally
        {
            _ = Libc.close(fd);
        }
    }

    // rw------- : the keys are visitors' data, for this user only (and exactly this, whatever the umask).
    private const int FileMode0600 = 0x180;
}
