//! Owner-only files and folders: the database, the outbox and the data directory hold secrets' hashes.

use std::io::Write;
use std::path::Path;

pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Why a folder is not safe to keep Latchkey's data in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsafe {
    OwnedByOther,
    WritableByOthers,
}

impl std::fmt::Display for Unsafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unsafe::OwnedByOther => "owned by another user",
            Unsafe::WritableByOthers => "writable by other users",
        })
    }
}

/// Creates the folder (0700) if needed; an existing one of ours that others could read (Tauri
/// makes the app-data folder 0755) loses the others' bits. One owned by someone else, or that others may
/// write to, is refused: files in it could have been planted or swapped.
pub fn ensure_private_dir(dir: &Path) -> std::io::Result<Result<(), Unsafe>> {
    create_private_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, PermissionsExt};
        let meta = std::fs::metadata(dir)?;
        if meta.uid() != nix::unistd::geteuid().as_raw() {
            return Ok(Err(Unsafe::OwnedByOther));
        }
        if meta.mode() & 0o022 != 0 {
            return Ok(Err(Unsafe::WritableByOthers));
        }
        if meta.mode() & 0o077 != 0 {
            // Only take away: a folder the owner made read-only stays read-only.
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(meta.mode() & 0o700))?;
        }
    }
    Ok(Ok(()))
}

/// Creates the file if needed and (re)sets its mode to 0600.
pub fn ensure_private_file(path: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        options.open(path)?.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    options.open(path)?;
    Ok(())
}

/// Writes a new owner-only (0600) file; never follows or replaces an existing one.
pub fn write_private_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes an owner-only (0600) file in place of whatever `path` is: a new file beside it, then
/// renamed over it, so a reader never sees half a file and a link at `path` is replaced, not
/// followed.
pub fn replace_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().ok_or_else(|| std::io::Error::other("no file name"))?;
    let mut random = [0u8; 8];
    rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut random).map_err(std::io::Error::other)?;
    let suffix: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let partial = path.with_file_name(format!(".{}.{suffix}.partial", name.to_string_lossy()));
    write_private_new(&partial, bytes)?;
    std::fs::rename(&partial, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&partial);
    })
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_replaced_file_is_private_whole_and_never_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.json");
        std::fs::write(&path, "old and longer").unwrap();
        replace_private(&path, b"new").unwrap();
        assert_eq!((std::fs::read_to_string(&path).unwrap().as_str(), mode(&path)), ("new", 0o600));
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep").unwrap();
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        replace_private(&link, b"mine").unwrap();
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3, "no partial file left");
    }

    #[test]
    fn a_readable_folder_of_ours_is_made_private_and_a_writable_one_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let dir = base.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(ensure_private_dir(&dir).unwrap(), Ok(()));
        assert_eq!(mode(&dir), 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(ensure_private_dir(&dir).unwrap(), Err(Unsafe::WritableByOthers));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
        assert_eq!(ensure_private_dir(&dir).unwrap(), Ok(()));
        assert_eq!(mode(&dir), 0o500, "a read-only folder stays read-only");
        let fresh = base.path().join("a/b");
        assert_eq!(ensure_private_dir(&fresh).unwrap(), Ok(()));
        assert_eq!(mode(&fresh), 0o700);
    }

    #[test]
    fn a_folder_owned_by_someone_else_is_refused() {
        let base = tempfile::tempdir().unwrap();
        let theirs = base.path().join("theirs");
        std::fs::create_dir(&theirs).unwrap();
        if nix::unistd::geteuid().is_root() {
            std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
        // nobody
        } else {
            return; // only root can make a folder someone else owns; CI runs as root
        }
        assert_eq!(ensure_private_dir(&theirs).unwrap(), Err(Unsafe::OwnedByOther));
    }

    #[test]
    fn new_private_files_are_0600_and_never_replace_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.eml");
        write_private_new(&path, b"x").unwrap();
        assert_eq!(mode(&path), 0o600);
        assert!(write_private_new(&path, b"y").is_err());
    }
}
