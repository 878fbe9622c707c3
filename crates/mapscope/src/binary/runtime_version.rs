//! The Go version when a binary carries no build info (esbuild ships
//! without `.go.buildinfo`): the linker still writes `runtime.buildVersion`,
//! a string variable in `.data`/`.noptrdata` whose bytes are in read-only
//! data. Its string header is found by shape — a pointer into the file's
//! read-only data and a length — and its bytes must parse as a Go version.
//! Other strings of that form (module paths, messages) do not parse; the
//! version is taken only when every such string agrees.

use super::image::Image;
use super::version::GoVersion;

/// Longest version string accepted (`go1.27.3-X:mapsplitgroup,…`).
const MAX_LEN: u64 = 96;

/// `runtime.buildVersion`, found by shape in the writable data sections.
pub(crate) fn find(img: &Image) -> Option<GoVersion> {
    let mut found: Option<GoVersion> = None;
    for name in [".noptrdata", ".data"] {
        let Some(s) = img.section(name) else { continue };
        let Some(data) = img.section_data(s) else { continue };
        for pair in data.chunks_exact(16) {
            let word = |o: usize| -> Option<u64> {
                let b: [u8; 8] = pair.get(o..o + 8)?.try_into().ok()?;
                Some(u64::from_le_bytes(b))
            };
            let (Some(ptr), Some(len)) = (word(0), word(8)) else {
                continue;
            };
            if !(6..=MAX_LEN).contains(&len) || ptr == 0 {
                continue;
            }
            let Ok(bytes) = img.read(ptr, len, "runtime.buildVersion") else {
                continue;
            };
            // Cheap filter before parsing: the runtime's version starts "go1." or "devel ".
            if !(bytes.starts_with(b"go1.") || bytes.starts_with(b"devel go1.")) {
                continue;
            }
            let Ok(text) = std::str::from_utf8(bytes) else { continue };
            if text.chars().any(|c| c.is_control()) {
                continue;
            }
            let Ok(v) = GoVersion::parse(text) else { continue };
            match &found {
                None => found = Some(v),
                Some(f) if f.raw == v.raw => {}
                // Two different versions: the shape does not decide.
                Some(_) => return None,
            }
        }
    }
    found
}
