//! Decompression of corpus files into the cache, once, sparsely.

use std::fs::{self, File};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use crate::{cache_dir, corpus_dir, FileEntry, FixtureError, Result};

/// Cores are mostly holes: a block of zeros becomes a seek, not a write.
const BLOCK: usize = 64 * 1024;

/// Returns the decompressed file, decompressing it first if the cache does
/// not hold it at the size the manifest gives.
pub(crate) fn materialise(entry: &FileEntry, executable: bool) -> Result<PathBuf> {
    let src = corpus_dir().join(&entry.file);
    let name = entry.file.strip_suffix(".zst").unwrap_or(&entry.file);
    let mut dst = cache_dir().join(name);
    if let (Some(hash), Some(file)) = (&entry.sha256, dst.file_name().and_then(|f| f.to_str())) {
        let short = hash.get(..12).unwrap_or(hash);
        dst = dst.with_file_name(format!("{short}-{file}"));
    }
    if fs::metadata(&dst).map(|m| m.len() == entry.size).unwrap_or(false) {
        return Ok(dst);
    }
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| FixtureError::Io { path, source }
    };
    let dir = dst.parent().unwrap_or(&dst).to_path_buf();
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    // Unique per process and thread: parallel tests may all get here.
    let tmp = dir.join(format!(
        ".{}.{}.{:?}.tmp",
        dst.file_name().and_then(|n| n.to_str()).unwrap_or("fixture"),
        std::process::id(),
        std::thread::current().id()
    ));
    let written = (|| -> std::io::Result<u64> {
        let mut dec = zstd::stream::read::Decoder::new(File::open(&src)?)?;
        // Large corpus files are compressed with `--long=27` (or more).
        dec.window_log_max(31)?;
        let mut out = File::create(&tmp)?;
        let mut buf = vec![0u8; BLOCK];
        let mut total = 0u64;
        loop {
            let n = read_full(&mut dec, &mut buf)?;
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            if chunk.iter().all(|&b| b == 0) {
                out.seek(SeekFrom::Current(n as i64))?;
            } else {
                out.write_all(chunk)?;
            }
            total += n as u64;
        }
        out.set_len(total)?;
        if executable {
            use std::os::unix::fs::PermissionsExt;
            out.set_permissions(fs::Permissions::from_mode(0o755))?;
        }
        out.sync_all()?;
        Ok(total)
    })()
    .map_err(io(&src))?;
    if written != entry.size {
        let _ = fs::remove_file(&tmp);
        return Err(FixtureError::Size {
            path: src,
            got: written,
            want: entry.size,
        });
    }
    fs::rename(&tmp, &dst).map_err(io(&dst))?;
    Ok(dst)
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
