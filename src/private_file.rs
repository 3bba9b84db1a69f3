//! Private files: the one place that creates, appends to and replaces the
//! files that hold a call (journal, events, brief, prep, token, history) and
//! the model's temporary files.
//!
//! Why one module: these files hold what was said on a call, and they are
//! written into folders a user names (`--out /tmp/x`), where another local
//! user may have planted a name first. The rules, kept in one place:
//! - folders are created 0700 and must belong to this user and not be
//!   writable by others (a folder someone else controls can swap names);
//! - files are 0600, opened with `O_NOFOLLOW`, so a planted symbolic link at
//!   the file's name is an error instead of a way to redirect the transcript;
//! - a file we append to must be a regular file of ours with one link (a
//!   planted hard link would also redirect it);
//! - a file is replaced by a temporary file created exclusively
//!   (`O_EXCL | O_NOFOLLOW`) in the same folder, synced, renamed over the
//!   name (rename replaces a link rather than following it), and the folder
//!   synced; temporary files that a killed process left behind are removed
//!   the next time the same name is written.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Mode of the files that hold a call.
pub const PRIVATE_FILE_MODE: u32 = 0o600;
/// Mode of the folders created for them.
pub const PRIVATE_DIR_MODE: u32 = 0o700;
/// Mode of files that are not private (the model).
pub const SHARED_FILE_MODE: u32 = 0o644;

const TEMP_SUFFIX: &str = ".tmp";

fn refused(path: &Path, why: impl std::fmt::Display) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, format!("{}: {why}", path.display()))
}

/// Turns the kernel's answer to `O_NOFOLLOW` on a link into words.
fn explain_open_error(path: &Path, error: io::Error) -> io::Error {
    #[cfg(unix)]
    if error.raw_os_error() == Some(libc::ELOOP) {
        return refused(path, "is a symbolic link; call files are never read or written through a link (remove it, or choose another folder)");
    }
    if error.kind() == io::ErrorKind::AlreadyExists {
        return io::Error::new(error.kind(), format!("{}: already exists", path.display()));
    }
    error
}

/// The uid this process acts as: the owner its files and peers must have.
#[cfg(unix)]
pub fn effective_uid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// Creates `dir` and its missing parents (new folders get mode 0700), then
/// checks that the folder is one this user controls: owned by this user (or
/// root) and not writable by every user unless sticky (like /tmp). A
/// group-writable folder is accepted: with user-private groups (the Debian
/// and Ubuntu default, umask 002) that group is the user alone.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    if !dir.is_dir() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(PRIVATE_DIR_MODE);
        }
        builder.create(dir)?;
    }
    check_dir_is_ours(dir)
}

#[cfg(unix)]
fn check_dir_is_ours(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(dir)?;
    if !meta.is_dir() {
        return Err(refused(dir, "is not a folder"));
    }
    let uid = effective_uid();
    if meta.uid() != uid && meta.uid() != 0 {
        return Err(refused(dir, format!("belongs to another user (uid {}); call files are only written into your own folders", meta.uid())));
    }
    let sticky = meta.mode() & 0o1000 != 0;
    if meta.mode() & 0o002 != 0 && !sticky {
        return Err(refused(dir, format!("is writable by other users (mode {:o}); run `chmod go-w` on it or choose another folder", meta.mode() & 0o777)));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_dir_is_ours(_dir: &Path) -> io::Result<()> {
    Ok(())
}

fn no_follow(options: &mut OpenOptions, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    #[cfg(not(unix))]
    let _ = (options, mode);
}

/// The file must be a regular file of ours with one name; its mode is
/// narrowed to `mode` if it was wider.
fn check_file_is_ours(path: &Path, file: &File, mode: u32) -> io::Result<()> {
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refused(path, "is not a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        if meta.uid() != effective_uid() {
            return Err(refused(path, format!("belongs to another user (uid {})", meta.uid())));
        }
        if meta.nlink() != 1 {
            return Err(refused(path, format!("has {} hard links; refusing to write a call into a shared file", meta.nlink())));
        }
        if meta.mode() & 0o777 & !mode != 0 {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
    }
    Ok(())
}

/// Opens `path` for appending, creating it 0600; its folder is created as
/// [`create_private_dir`] does.
pub fn open_append(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    no_follow(&mut options, PRIVATE_FILE_MODE);
    let file = options.open(path).map_err(|e| explain_open_error(path, e))?;
    check_file_is_ours(path, &file, PRIVATE_FILE_MODE)?;
    Ok(file)
}

/// Appends one line (a newline is added) to `path`, opened as [`open_append`] does.
pub fn append_line(path: &Path, line: &str) -> io::Result<()> {
    let mut file = open_append(path)?;
    let mut bytes = Vec::with_capacity(line.len() + 1);
    bytes.extend_from_slice(line.as_bytes());
    bytes.push(b'\n');
    file.write_all(&bytes)
}

/// Opens a regular file for reading without following a link at its name.
pub fn open_read(path: &Path) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true);
    no_follow(&mut options, PRIVATE_FILE_MODE);
    let file = options.open(path).map_err(|e| if e.kind() == io::ErrorKind::NotFound { e } else { explain_open_error(path, e) })?;
    if !file.metadata()?.is_file() {
        return Err(refused(path, "is not a regular file"));
    }
    Ok(file)
}

/// Reads a private file without following a link at its name; `None` when
/// there is no file.
pub fn read_to_string(path: &Path) -> io::Result<Option<String>> {
    let mut file = match open_read(path) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error),
    };
    let mut text = String::new();
    file.read_to_string(&mut text)?;
    Ok(Some(text))
}

/// Refuses a symbolic link or a non-regular file at `path`, for files that a
/// library opens itself (SQLite); a missing file is fine.
pub fn refuse_link(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(explain_open_error(path, io::Error::from_raw_os_error(libc::ELOOP))),
        Ok(meta) if !meta.is_file() => Err(refused(path, "is not a regular file")),
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(error) => Err(error),
    }
}

/// Replaces `path` with `bytes` atomically, mode 0600.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = AtomicFile::create(path, PRIVATE_FILE_MODE)?;
    file.writer().write_all(bytes)?;
    file.commit()
}

/// Creates `path` exclusively (it must not exist), mode 0600, no-follow.
pub fn create_new(path: &Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    no_follow(&mut options, PRIVATE_FILE_MODE);
    options.open(path).map_err(|e| explain_open_error(path, e))
}

/// A file written under a temporary name beside its destination and renamed
/// over it only by [`AtomicFile::commit`]; dropped uncommitted, the temporary
/// file is removed.
pub struct AtomicFile {
    dest: PathBuf,
    temp: PathBuf,
    writer: Option<io::BufWriter<File>>,
}

impl AtomicFile {
    /// The temporary file is `.NAME.PID.N.tmp` in the destination's folder,
    /// created exclusively with `mode`; stale ones of the same NAME left by
    /// processes that no longer run are removed first.
    pub fn create(dest: &Path, mode: u32) -> io::Result<AtomicFile> {
        AtomicFile::create_in(dest, mode, true)
    }

    /// As [`AtomicFile::create`], for a file that holds nothing private (the
    /// model): its folder is created as usual, without the ownership check.
    pub fn create_shared(dest: &Path) -> io::Result<AtomicFile> {
        AtomicFile::create_in(dest, SHARED_FILE_MODE, false)
    }

    fn create_in(dest: &Path, mode: u32, private_dir: bool) -> io::Result<AtomicFile> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = dest
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a file path", dest.display())))?
            .to_string();
        if private_dir {
            create_private_dir(&dir)?;
        } else {
            std::fs::create_dir_all(&dir)?;
        }
        remove_stale_temps(&dir, &name);
        let temp = dir.join(format!(".{name}.{}.{}{TEMP_SUFFIX}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed)));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        no_follow(&mut options, mode);
        let file = options.open(&temp).map_err(|e| explain_open_error(&temp, e))?;
        Ok(AtomicFile { dest: dest.to_path_buf(), temp, writer: Some(io::BufWriter::with_capacity(1 << 16, file)) })
    }

    /// Where the data goes until `commit` (to check it before it takes the destination's name).
    pub fn temp_path(&self) -> &Path {
        &self.temp
    }

    pub fn writer(&mut self) -> &mut io::BufWriter<File> {
        self.writer.as_mut().expect("writer is present until commit")
    }

    /// Syncs the data, renames it over the destination and syncs the folder.
    pub fn commit(mut self) -> io::Result<()> {
        let writer = self.writer.take().expect("commit is called once");
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        let result = file.sync_all().and_then(|()| {
            drop(file);
            std::fs::rename(&self.temp, &self.dest)
        });
        if let Err(error) = result {
            let _ = std::fs::remove_file(&self.temp);
            return Err(error);
        }
        if let Some(dir) = self.dest.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Makes the rename itself durable; not every platform opens folders.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.writer.take().is_some() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// The PID in a temporary name `.NAME.PID.N.tmp`, if `file_name` is one for `name`.
fn temp_owner(file_name: &str, name: &str) -> Option<u32> {
    let rest = file_name.strip_prefix('.')?.strip_prefix(name)?.strip_prefix('.')?.strip_suffix(TEMP_SUFFIX)?;
    let (pid, counter) = rest.split_once('.')?;
    counter.parse::<u64>().ok()?;
    pid.parse().ok()
}

fn process_is_running(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
        // SAFETY: signal 0 only asks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0;
        alive || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

/// Removes temporary files for `name` in `dir` whose writer no longer runs
/// (a kill between create and rename leaves one). Best effort.
fn remove_stale_temps(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name.to_str().and_then(|f| temp_owner(f, name)) else { continue };
        if pid != std::process::id() && !process_is_running(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn appends_privately_and_refuses_planted_links() {
        let dir = tempfile::tempdir().unwrap();
        let journal = dir.path().join("calls/journal.jsonl");
        append_line(&journal, "one").unwrap();
        append_line(&journal, "two").unwrap();
        assert_eq!(std::fs::read_to_string(&journal).unwrap(), "one\ntwo\n");
        assert_eq!(mode(&journal), 0o600);
        assert_eq!(mode(journal.parent().unwrap()), 0o700);

        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "theirs").unwrap();
        let planted = dir.path().join("calls/events.jsonl");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let error = open_append(&planted).unwrap_err().to_string();
        assert!(error.contains("symbolic link"), "{error}");
        let hard = dir.path().join("calls/hard.jsonl");
        std::fs::hard_link(&victim, &hard).unwrap();
        let error = open_append(&hard).unwrap_err().to_string();
        assert!(error.contains("hard links"), "{error}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "theirs");
        assert!(read_to_string(&planted).is_err());
        assert_eq!(read_to_string(&dir.path().join("calls/none")).unwrap(), None);
    }

    #[test]
    fn replaces_atomically_over_a_planted_link_without_following_it() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, "theirs").unwrap();
        let brief = dir.path().join("brief.json");
        std::os::unix::fs::symlink(&victim, &brief).unwrap();
        write_atomic(&brief, b"{}").unwrap();
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "theirs");
        assert!(!std::fs::symlink_metadata(&brief).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&brief).unwrap(), "{}");
        assert_eq!(mode(&brief), 0o600);
    }

    #[test]
    fn stale_temporary_files_are_removed_and_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        // PIDs above the kernel's maximum (4194304) are never running.
        let stale = dir.path().join(".brief.md.4999999.0.tmp");
        let live = dir.path().join(format!(".brief.md.{}.99.tmp", std::process::id()));
        let other = dir.path().join(".transcript.md.4999999.0.tmp");
        for path in [&stale, &live, &other] {
            std::fs::write(path, "partial").unwrap();
        }
        write_atomic(&dir.path().join("brief.md"), b"done").unwrap();
        assert!(!stale.exists());
        assert!(live.exists(), "a temp file of a running process stays");
        assert!(other.exists(), "only temp files of the same name are swept");
        assert_eq!(temp_owner(".brief.md.12.3.tmp", "brief.md"), Some(12));
        assert_eq!(temp_owner(".brief.md.tmp", "brief.md"), None);
    }

    #[test]
    fn folders_writable_by_others_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o777)).unwrap();
        let error = create_private_dir(&open).unwrap_err().to_string();
        assert!(error.contains("writable by other users"), "{error}");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777)).unwrap();
        create_private_dir(&open).expect("a sticky folder like /tmp is fine");
        let exclusive = dir.path().join("token");
        create_new(&exclusive).unwrap();
        assert!(create_new(&exclusive).is_err(), "exclusive create");
    }
}
