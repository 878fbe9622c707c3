//! `.go.buildinfo`: the Go version and the module/build-setting text that
//! `go version -m` prints (`src/debug/buildinfo/buildinfo.go`).

use super::bytes::{find_aligned, uvarint, ByteOrder};
use super::error::{malformed, BinaryError, Result};
use super::image::Image;
use super::version::GoVersion;

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER_SIZE: u64 = 32;
const ALIGN: usize = 16;
const FLAG_BIG_ENDIAN: u8 = 0x1;
const FLAG_INLINE_STRINGS: u8 = 0x2;
/// Strings in build info are short; this caps what a corrupt length can make us copy.
const MAX_STRING: u64 = 16 << 20;

/// One module line of `go version -m`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Module {
    pub path: String,
    pub version: String,
    pub sum: Option<String>,
    pub replace: Option<Box<Module>>,
}

/// Everything `.go.buildinfo` holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BuildInfo {
    /// Where the 32-byte header is.
    pub addr: u64,
    /// The version string as stored, e.g. `go1.24.11 X:noswissmap`.
    pub go_version: String,
    /// The `path` line (main package path).
    pub path: Option<String>,
    pub main: Option<Module>,
    pub deps: Vec<Module>,
    /// `build` lines in order: `-compiler=gc`, `GOARCH=amd64`, `GOEXPERIMENT=…`, ….
    pub settings: Vec<(String, String)>,
}

impl BuildInfo {
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.settings.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// The GOEXPERIMENT build setting when present (it is authoritative: it is
    /// what the toolchain was told), else the version string's `X:` suffix.
    pub fn experiments(&self) -> Vec<String> {
        if let Some(x) = self.setting("GOEXPERIMENT") {
            return x.split(',').filter(|e| !e.is_empty()).map(str::to_string).collect();
        }
        GoVersion::parse(&self.go_version)
            .map(|v| v.experiments)
            .unwrap_or_default()
    }
}

pub(crate) fn read(img: &Image) -> Result<BuildInfo> {
    let addr = locate(img)?;
    let hdr = img.read(addr, HEADER_SIZE, "build info header")?;
    let ptr_size = hdr.get(14).copied().unwrap_or(0);
    let flags = hdr.get(15).copied().unwrap_or(0);
    let (vers, modinfo) = if flags & FLAG_INLINE_STRINGS != 0 {
        let (vers, next) = inline_string(img, addr + HEADER_SIZE)?;
        let (modinfo, _) = inline_string(img, next)?;
        (vers, modinfo)
    } else {
        let order = if flags & FLAG_BIG_ENDIAN != 0 {
            ByteOrder::Big
        } else {
            ByteOrder::Little
        };
        let vp = order.uptr(hdr, 16, ptr_size).ok_or_else(|| {
            malformed(
                "build info header",
                addr,
                format!("pointer size {ptr_size}, expected 4 or 8"),
            )
        })?;
        let mp = order
            .uptr(hdr, 16 + usize::from(ptr_size), ptr_size)
            .ok_or_else(|| malformed("build info header", addr, "truncated"))?;
        (string_header(img, vp)?, string_header(img, mp)?)
    };
    let mut bi = BuildInfo {
        addr,
        go_version: String::from_utf8_lossy(&vers).into_owned(),
        path: None,
        main: None,
        deps: Vec::new(),
        settings: Vec::new(),
    };
    parse_modinfo(&strip_sentinels(&modinfo), &mut bi);
    Ok(bi)
}

fn locate(img: &Image) -> Result<u64> {
    if let Some(s) = img.section(".go.buildinfo") {
        let head = img.section_data(s).and_then(|d| d.get(..MAGIC.len()));
        if head == Some(MAGIC) {
            return Ok(s.addr);
        }
        return Err(BinaryError::NoBuildInfo(format!(
            ".go.buildinfo at {:#x} does not start with the magic \"\\xff Go buildinf:\"",
            s.addr
        )));
    }
    for (base, _, bytes) in img.writable_ranges() {
        if let Some(off) = find_aligned(bytes, MAGIC, ALIGN).next() {
            return Ok(base.saturating_add(off as u64));
        }
    }
    Err(BinaryError::NoBuildInfo(
        "no .go.buildinfo section and no \"\\xff Go buildinf:\" magic in writable data".into(),
    ))
}

fn inline_string(img: &Image, addr: u64) -> Result<(Vec<u8>, u64)> {
    let b = img.bytes_from(addr).ok_or(BinaryError::Unmapped {
        what: "build info string",
        addr,
        len: 1,
    })?;
    let (len, n) = uvarint(b, 0).ok_or_else(|| malformed("build info string", addr, "bad uvarint length"))?;
    if len > MAX_STRING {
        return Err(malformed("build info string", addr, format!("length {len} too large")));
    }
    let start = n;
    let s = b
        .get(start..start.saturating_add(len as usize))
        .ok_or_else(|| malformed("build info string", addr, format!("length {len} runs past the section")))?;
    let next = addr.saturating_add(n as u64).saturating_add(len);
    Ok((s.to_vec(), next))
}

/// Pre-1.18: the header points at a Go `string` header {ptr, len}.
fn string_header(img: &Image, addr: u64) -> Result<Vec<u8>> {
    let ptr = img.word(addr, "build info string header")?;
    let len = img.word(addr.saturating_add(u64::from(img.ptr_size)), "build info string header")?;
    if len > MAX_STRING {
        return Err(malformed(
            "build info string header",
            addr,
            format!("length {len} too large"),
        ));
    }
    Ok(img.read(ptr, len, "build info string")?.to_vec())
}

/// The linker wraps modinfo in 16-byte binary sentinels (`runtime/debug`
/// strips them too); strip before decoding text or the lengths shift.
fn strip_sentinels(b: &[u8]) -> String {
    if b.len() >= 33 && b.get(b.len() - 17) == Some(&b'\n') {
        if let Some(inner) = b.get(16..b.len() - 16) {
            return String::from_utf8_lossy(inner).into_owned();
        }
    }
    String::from_utf8_lossy(b).into_owned()
}

/// The text format of `runtime/debug.BuildInfo.String()`.
fn parse_modinfo(text: &str, bi: &mut BuildInfo) {
    let module = |fields: &[&str]| -> Option<Module> {
        Some(Module {
            path: fields.first()?.to_string(),
            version: fields.get(1).map(|s| s.to_string()).unwrap_or_default(),
            sum: fields.get(2).filter(|s| !s.is_empty()).map(|s| s.to_string()),
            replace: None,
        })
    };
    for line in text.lines() {
        let mut parts = line.splitn(2, '\t');
        let key = parts.next().unwrap_or("");
        let rest = parts.next().unwrap_or("");
        let fields: Vec<&str> = rest.split('\t').collect();
        match key {
            "path" => bi.path = Some(rest.to_string()),
            "mod" => bi.main = module(&fields),
            "dep" => {
                if let Some(m) = module(&fields) {
                    bi.deps.push(m);
                }
            }
            "=>" => {
                let target = bi.deps.last_mut().or(bi.main.as_mut());
                if let (Some(t), Some(r)) = (target, module(&fields)) {
                    t.replace = Some(Box::new(r));
                }
            }
            "build" => {
                let (k, v) = match rest.split_once('=') {
                    Some((k, v)) => (k, v),
                    None => (rest, ""),
                };
                let v = v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v);
                bi.settings.push((k.to_string(), v.to_string()));
            }
            _ => {}
        }
    }
}
