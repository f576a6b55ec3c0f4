//! Which local files a stage may read by a path from a user's table, and
//! reading one within bounds (docs/data.md, "Local files").
//!
//! A path in a manifest could name anything the process can read:
//! `/proc/self/environ` (the environment, credentials included, which would
//! become a blob and travel to a shared cache), `/dev/zero` (never ends), a
//! FIFO (blocks for ever). So [`LocalRoots::admit`] resolves a path (symlinks
//! and `..`) and admits it only under pipeline.yaml's directory or an
//! `allow_paths:` entry, and never under `/proc`, `/sys` or `/dev`; and
//! [`read_regular`] reads only a regular file, and at most a limit of bytes.
//!
//! A directory parameter ([`crate::ParamType::Dir`]) enters a key by its
//! listing ([`list_dir`]), made by the engine and read by the stage
//! ([`listed_paths`]).

use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Kernel pseudo-file systems: never data, whatever `allow_paths` says
/// (their files claim to be regular and empty, then stream anything).
const PSEUDO: &[&str] = &["/proc", "/sys", "/dev"];

/// The directories whose files a stage may read, resolved once.
pub struct LocalRoots {
    base: PathBuf,
    allowed: Vec<PathBuf>,
}

impl LocalRoots {
    /// pipeline.yaml's directory and the `allow_paths` entries.
    pub fn new(base_dir: &Path, allowed: &[PathBuf]) -> LocalRoots {
        LocalRoots {
            base: resolve(base_dir),
            allowed: allowed.iter().map(|p| resolve(p)).collect(),
        }
    }

    /// The resolved path to read in place of `path`, or why it may not be
    /// read (a sentence naming the path and how to allow it).
    pub fn admit(&self, path: &Path) -> Result<PathBuf, String> {
        let resolved = resolve(path);
        let shown = if resolved == path {
            path.display().to_string()
        } else {
            format!(
                "{} (which resolves to {})",
                path.display(),
                resolved.display()
            )
        };
        if let Some(pseudo) = PSEUDO.iter().find(|p| resolved.starts_with(p)) {
            return Err(format!(
                "{shown} is under {pseudo}, a kernel pseudo-file system, and is never read \
                 (not even with `allow_paths:`)"
            ));
        }
        if std::iter::once(&self.base)
            .chain(&self.allowed)
            .any(|root| resolved.starts_with(root))
        {
            return Ok(resolved);
        }
        let allowed = if self.allowed.is_empty() {
            String::new()
        } else {
            let list: Vec<String> = self
                .allowed
                .iter()
                .map(|p| p.display().to_string())
                .collect();
            format!(" and its `allow_paths:` ({})", list.join(", "))
        };
        Err(format!(
            "{shown} is outside the pipeline's directory ({}){allowed}; to read it, add a \
             directory that holds it to `allow_paths:` in pipeline.yaml",
            self.base.display()
        ))
    }
}

/// `path` with symlinks and `..` resolved. A path that does not exist has
/// its existing ancestors resolved and the rest taken by its text (it can
/// only be "no such file" when read, but must be judged inside or outside).
fn resolve(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let lexical = normalise(&std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()));
    let mut head = lexical.as_path();
    let mut tail = Vec::new();
    while let (Some(parent), Some(name)) = (head.parent(), head.file_name()) {
        tail.push(name);
        head = parent;
        if let Ok(real) = head.canonicalize() {
            return tail.iter().rev().fold(real, |p, name| p.join(name));
        }
    }
    lexical
}

/// Drops `.` and applies `..` by the text of the path.
fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Why a local file could not be read.
#[derive(Debug)]
pub enum Unreadable {
    Missing,
    Denied,
    /// A directory, FIFO, socket or device.
    NotRegular(&'static str),
    /// More than the limit (in bytes) the reader was given.
    TooLarge(u64),
    /// Anything else: an I/O error that may not happen again.
    Io(std::io::Error),
}

impl Unreadable {
    /// Whether another attempt could succeed.
    pub fn may_pass(&self) -> bool {
        matches!(self, Unreadable::Io(_))
    }

    fn from_io(e: std::io::Error) -> Unreadable {
        match e.kind() {
            std::io::ErrorKind::NotFound => Unreadable::Missing,
            std::io::ErrorKind::PermissionDenied => Unreadable::Denied,
            _ => Unreadable::Io(e),
        }
    }
}

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unreadable::Missing => write!(f, "no such file"),
            Unreadable::Denied => write!(f, "permission denied"),
            Unreadable::NotRegular(kind) => write!(f, "{kind}, not a regular file"),
            Unreadable::TooLarge(limit) => write!(f, "larger than the limit of {}", size(*limit)),
            Unreadable::Io(e) => write!(f, "cannot read the file: {e}"),
        }
    }
}

/// "2 GiB", "1 MiB", or a number of bytes.
pub fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b => format!("{b} bytes"),
    }
}

/// The bytes of the regular file at `path`, at most `limit` of them. The
/// type is checked before opening (a FIFO would block the open) and again
/// on the open file; the limit before reading and while reading (some
/// files claim a size they do not have).
pub fn read_regular(path: &Path, limit: u64) -> Result<Vec<u8>, Unreadable> {
    let regular = |meta: &std::fs::Metadata| {
        if meta.is_file() {
            Ok(())
        } else {
            Err(Unreadable::NotRegular(kind(&meta.file_type())))
        }
    };
    let meta = std::fs::metadata(path).map_err(Unreadable::from_io)?;
    regular(&meta)?;
    if meta.len() > limit {
        return Err(Unreadable::TooLarge(limit));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(target_os = "linux")]
    {
        // Should a FIFO replace the file after the check, open at once.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(Unreadable::from_io)?;
    regular(&file.metadata().map_err(Unreadable::from_io)?)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(Unreadable::from_io)?;
    if bytes.len() as u64 > limit {
        return Err(Unreadable::TooLarge(limit));
    }
    Ok(bytes)
}

/// The most files a directory parameter may hold: it is listed on every
/// `status` and `run`.
pub const MAX_LISTED_FILES: usize = 1_000_000;

/// What a directory parameter's key and stage get of the directory `root`:
/// the relative paths (`/`-separated, sorted) of the regular files under
/// it, as a JSON array. Not their sizes, dates or bytes: a stage that
/// lists files (the folder importer) depends on their names alone, and
/// whatever reads a file's bytes later (`fetch`) reads them then. Names
/// starting with `.` are not data (`.DS_Store`, macOS's `._x.wav` copies,
/// `.git`) and are left out, as is anything not a regular file (a symlink
/// to one is listed); symlinked directories are not entered (no cycles).
pub fn list_dir(root: &Path) -> Result<Vec<u8>, String> {
    let meta =
        std::fs::metadata(root).map_err(|e| format!("cannot read {}: {e}", root.display()))?;
    if !meta.is_dir() {
        return Err(format!("{} is not a directory", root.display()));
    }
    let mut files = Vec::new();
    let mut pending = vec![(root.to_path_buf(), String::new())];
    while let Some((dir, prefix)) = pending.pop() {
        let unreadable = |e: std::io::Error| format!("cannot list {}: {e}", dir.display());
        for entry in std::fs::read_dir(&dir).map_err(unreadable)? {
            let entry = entry.map_err(unreadable)?;
            let path = entry.path();
            let name = entry.file_name().into_string().map_err(|name| {
                format!(
                    "{}: the name {name:?} is not UTF-8, so no table can name it",
                    path.display()
                )
            })?;
            if name.starts_with('.') {
                continue;
            }
            let relative = format!("{prefix}{name}");
            if entry.file_type().map_err(unreadable)?.is_dir() {
                pending.push((path, format!("{relative}/")));
            } else if std::fs::metadata(&path).is_ok_and(|m| m.is_file()) {
                files.push(relative);
                if files.len() > MAX_LISTED_FILES {
                    return Err(format!(
                        "{} holds more than {MAX_LISTED_FILES} files, the limit",
                        root.display()
                    ));
                }
            }
        }
    }
    files.sort_unstable();
    Ok(serde_json::to_vec(&files).expect("strings serialise"))
}

/// The paths of a listing made by [`list_dir`].
pub fn listed_paths(listing: &[u8]) -> Result<Vec<String>, String> {
    serde_json::from_slice(listing).map_err(|e| format!("not a directory listing: {e}"))
}

fn kind(file_type: &std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        return "a directory";
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_socket() {
            return "a socket";
        }
        if file_type.is_block_device() || file_type.is_char_device() {
            return "a device";
        }
    }
    "a special file"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn paths_are_admitted_only_under_the_roots() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("project");
        let data = dir.path().join("data");
        std::fs::create_dir_all(base.join("audio")).unwrap();
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(base.join("audio/a.wav"), b"a").unwrap();
        std::fs::write(data.join("b.wav"), b"b").unwrap();
        let real_base = base.canonicalize().unwrap();
        let roots = LocalRoots::new(&base, &[]);

        assert_eq!(
            roots.admit(&base.join("audio/./a.wav")),
            Ok(real_base.join("audio/a.wav"))
        );
        // Missing, inside: admitted (and "no such file" when read).
        assert_eq!(
            roots.admit(&base.join("audio/nope/x.wav")),
            Ok(real_base.join("audio/nope/x.wav"))
        );
        // Outside, by `..`, absolute, or missing: refused, saying how to allow.
        for outside in [
            base.join("../data/b.wav"),
            data.join("b.wav"),
            base.join("../data/missing/x.wav"),
        ] {
            let why = roots.admit(&outside).unwrap_err();
            assert!(
                why.contains("is outside the pipeline's directory")
                    && why.ends_with(
                        "to read it, add a directory that holds it to `allow_paths:` in \
                         pipeline.yaml"
                    ),
                "{why}"
            );
        }
        // A symlink inside that leads outside is judged by its target.
        std::os::unix::fs::symlink(data.join("b.wav"), base.join("audio/link.wav")).unwrap();
        let why = roots.admit(&base.join("audio/link.wav")).unwrap_err();
        assert!(why.contains("(which resolves to "), "{why}");

        let roots = LocalRoots::new(&base, std::slice::from_ref(&data));
        assert_eq!(
            roots.admit(&base.join("audio/link.wav")),
            Ok(data.canonicalize().unwrap().join("b.wav"))
        );
        let why = roots.admit(Path::new("/etc/hostname")).unwrap_err();
        assert!(why.contains("and its `allow_paths:` ("), "{why}");
    }

    #[test]
    fn pseudo_files_are_never_admitted() {
        let roots = LocalRoots::new(Path::new("/"), &[PathBuf::from("/")]);
        for path in ["/proc/self/environ", "/dev/zero", "/sys/kernel"] {
            let why = roots.admit(Path::new(path)).unwrap_err();
            assert!(why.contains("a kernel pseudo-file system"), "{why}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn only_regular_files_are_read_and_only_so_much() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.bin");
        std::fs::write(&file, b"0123456789").unwrap();
        assert_eq!(read_regular(&file, 10).unwrap(), b"0123456789");
        assert!(matches!(
            read_regular(&file, 9),
            Err(Unreadable::TooLarge(9))
        ));
        let missing = read_regular(&dir.path().join("nope"), 10).unwrap_err();
        assert_eq!(missing.to_string(), "no such file");
        assert!(!missing.may_pass());
        let directory = read_regular(dir.path(), 10).unwrap_err();
        assert_eq!(directory.to_string(), "a directory, not a regular file");

        // A FIFO with no writer: refused at once, never opened.
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let refused = read_regular(&fifo, 10).unwrap_err();
        assert_eq!(refused.to_string(), "a FIFO, not a regular file");
        assert_eq!(
            read_regular(Path::new("/dev/zero"), 10)
                .unwrap_err()
                .to_string(),
            "a device, not a regular file"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_listing_names_the_regular_files_sorted_without_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for file in [
            "b/2.wav",
            "b/1.wav",
            "a/x/deep.mp3",
            "top.txt",
            "a/.hidden.wav",
            "a/._1.wav",
        ] {
            std::fs::create_dir_all(root.join(file).parent().unwrap()).unwrap();
            std::fs::write(root.join(file), b"x").unwrap();
        }
        std::fs::create_dir_all(root.join(".git/objects")).unwrap();
        std::fs::write(root.join(".git/objects/o.wav"), b"x").unwrap();
        std::os::unix::fs::symlink(root.join("b/1.wav"), root.join("b/link.wav")).unwrap();
        std::os::unix::fs::symlink(root, root.join("a/loop")).unwrap();
        std::os::unix::fs::symlink(root.join("nope"), root.join("a/broken.wav")).unwrap();
        let listing = list_dir(root).unwrap();
        assert_eq!(
            listed_paths(&listing).unwrap(),
            [
                "a/x/deep.mp3",
                "b/1.wav",
                "b/2.wav",
                "b/link.wav",
                "top.txt"
            ]
        );
        let err = list_dir(&root.join("top.txt")).unwrap_err();
        assert!(err.ends_with("top.txt is not a directory"), "{err}");
        assert!(listed_paths(b"{}")
            .unwrap_err()
            .starts_with("not a directory listing"));
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_file_that_claims_less_than_it_holds_is_bounded_while_read() {
        // /proc files say they are empty and regular.
        let status = Path::new("/proc/self/status");
        assert_eq!(std::fs::metadata(status).unwrap().len(), 0);
        let err = read_regular(status, 16).unwrap_err();
        assert_eq!(err.to_string(), "larger than the limit of 16 bytes");
        assert_eq!(size(2 << 30), "2 GiB");
        assert_eq!(size(3 << 20), "3 MiB");
    }
}
