//! The executable's own bytes as memory: its PT_LOAD segments placed at their
//! virtual addresses, as the loader would map them before the program ran.
//!
//! Alone it answers static questions (type descriptors, string literals,
//! pclntab); under a [`CoreFile`](super::CoreFile) it supplies the read-only
//! file-backed memory that cores leave out.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::elfhdr::{self, LoadSegment};
use super::error::MemoryError;
use super::region::{find_region, Backing, Permissions, Region};
use super::spans::{read_spans, Span, SpanTable};
use super::{ByteOrder, Memory};

/// Bytes shared between back ends and with other parts of mapscope (an mmap or
/// a vector), without copying.
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

pub(crate) const ET_EXEC: u16 = 2;
pub(crate) const ET_DYN: u16 = 3;
pub(crate) const ET_CORE: u16 = 4;

/// One PT_LOAD segment of the executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageSegment {
    pub vaddr: u64,
    pub memsz: u64,
    pub file_offset: u64,
    pub filesz: u64,
    pub perms: Permissions,
}

#[derive(Clone, Copy, Debug)]
enum ImageSource {
    /// File bytes from this offset.
    File { offset: u64 },
    /// Within `p_filesz` but past the end of a truncated file.
    Truncated { offset: u64 },
    /// The `p_memsz > p_filesz` tail (bss): zero until the program writes it.
    Zero,
}

#[derive(Clone)]
pub struct ImageMemory {
    bytes: SharedBytes,
    path: Option<PathBuf>,
    byte_order: ByteOrder,
    pointer_size: usize,
    e_type: u16,
    machine: u16,
    entry: u64,
    segments: Vec<ImageSegment>,
    /// Loaded PT_NOTE ranges (vaddr, file offset, size): the build IDs.
    note_ranges: Vec<(u64, u64, u64)>,
    table: SpanTable<ImageSource>,
    regions: Vec<Region>,
}

impl std::fmt::Debug for ImageMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageMemory")
            .field("path", &self.path)
            .field("len", &self.file_len())
            .field("e_type", &self.e_type)
            .field("entry", &format_args!("{:#x}", self.entry))
            .field("segments", &self.segments)
            .finish()
    }
}

impl ImageMemory {
    /// Memory-maps the executable at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MemoryError> {
        let path = path.as_ref();
        let io = |op, source| MemoryError::Io {
            op,
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(|e| io("cannot open", e))?;
        let len = file.metadata().map_err(|e| io("cannot stat", e))?.len();
        let bytes: SharedBytes = if len == 0 {
            Arc::new(Vec::<u8>::new())
        } else {
            // SAFETY: the mapping is read-only and private; if another process
            // truncates the file while we hold it, reads may fault (SIGBUS), which
            // is the documented limit of every mmap-based reader.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io("cannot map", e))?;
            Arc::new(map)
        };
        let mut image = Self::from_bytes(bytes)?;
        image.path = Some(path.to_path_buf());
        image.regions = image_regions(&image.segments, image.path.as_deref());
        Ok(image)
    }

    /// An image over bytes already in memory (or mapped by someone else).
    pub fn from_bytes(bytes: SharedBytes) -> Result<Self, MemoryError> {
        let data: &[u8] = (*bytes).as_ref();
        let hdr = elfhdr::parse(data, "executable")?;
        if hdr.e_type != ET_EXEC && hdr.e_type != ET_DYN {
            return Err(MemoryError::Unsupported {
                what: "executable",
                reason: format!("ELF type {} is not an executable or PIE", hdr.e_type),
            });
        }
        let file_len = data.len() as u64;
        let mut segments = Vec::new();
        let mut spans = Vec::new();
        for l in &hdr.loads {
            let Some(seg) = place(l) else { continue };
            segments.push(seg);
            push_segment_spans(&mut spans, &seg, file_len);
        }
        segments.sort_by_key(|s| s.vaddr);
        let table = SpanTable::build(spans, clip_image);
        let regions = image_regions(&segments, None);
        let note_ranges = hdr
            .note_segments
            .iter()
            .filter(|n| n.vaddr != 0 || hdr.e_type == ET_DYN)
            .map(|n| (n.vaddr, n.offset, n.filesz.min(4096)))
            .collect();
        Ok(ImageMemory {
            bytes,
            path: None,
            byte_order: hdr.byte_order,
            pointer_size: if hdr.is_64 { 8 } else { 4 },
            e_type: hdr.e_type,
            machine: hdr.e_machine,
            entry: hdr.entry,
            segments,
            note_ranges,
            table,
            regions,
        })
    }

    /// The path the image was opened from, if it came from a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }

    /// The shared file bytes, for other readers of the same executable.
    pub fn shared_bytes(&self) -> SharedBytes {
        self.bytes.clone()
    }

    pub fn file_len(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// True for a position-independent executable (ET_DYN), whose addresses in a
    /// process are the image's plus a load bias.
    pub fn is_pie(&self) -> bool {
        self.e_type == ET_DYN
    }

    pub fn entry(&self) -> u64 {
        self.entry
    }

    /// ELF `e_machine`.
    pub fn machine(&self) -> u16 {
        self.machine
    }

    pub fn segments(&self) -> &[ImageSegment] {
        &self.segments
    }

    /// Loaded note ranges `(vaddr, file offset, size)`, which hold the build IDs.
    pub(crate) fn note_ranges(&self) -> &[(u64, u64, u64)] {
        &self.note_ranges
    }

    /// Reads raw file bytes at a file offset (what a file mapping of this
    /// executable shows). Fails past the end of the file.
    pub fn read_file(&self, offset: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let data = self.bytes();
        let src = usize::try_from(offset)
            .ok()
            .and_then(|o| data.get(o..o.checked_add(buf.len())?));
        match src {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(MemoryError::BeyondFileEnd {
                addr: offset,
                len: buf.len() as u64,
                at: offset.max(self.file_len()),
                what: self.describe(),
                file_offset: offset,
                file_len: self.file_len(),
            }),
        }
    }

    pub(crate) fn describe(&self) -> String {
        match &self.path {
            Some(p) => format!("the executable {}", p.display()),
            None => "the executable".into(),
        }
    }
}

fn image_regions(segments: &[ImageSegment], path: Option<&Path>) -> Vec<Region> {
    let path = path.map(|p| Arc::new(p.to_path_buf()));
    let regions = segments
        .iter()
        .map(|s| Region {
            start: s.vaddr,
            end: s.vaddr + s.memsz,
            perms: s.perms,
            backing: match &path {
                Some(p) => Backing::File {
                    path: p.clone(),
                    offset: s.file_offset,
                },
                None => Backing::Anonymous,
            },
        })
        .collect();
    dedup_regions(regions)
}

fn place(l: &LoadSegment) -> Option<ImageSegment> {
    if l.memsz == 0 {
        return None;
    }
    // A segment that wraps the address space cannot be loaded; ignore it.
    l.vaddr.checked_add(l.memsz)?;
    Some(ImageSegment {
        vaddr: l.vaddr,
        memsz: l.memsz,
        file_offset: l.offset,
        // p_filesz > p_memsz is malformed; the loader maps only memsz.
        filesz: l.filesz.min(l.memsz),
        perms: Permissions::from_elf_flags(l.flags),
    })
}

fn push_segment_spans(spans: &mut Vec<Span<ImageSource>>, s: &ImageSegment, file_len: u64) {
    let avail = file_len.saturating_sub(s.file_offset).min(s.filesz);
    let (v, f, m) = (s.vaddr, s.vaddr + s.filesz, s.vaddr + s.memsz);
    spans.push(Span {
        start: v,
        end: v + avail,
        value: ImageSource::File { offset: s.file_offset },
    });
    spans.push(Span {
        start: v + avail,
        end: f,
        value: ImageSource::Truncated {
            offset: s.file_offset.saturating_add(avail),
        },
    });
    spans.push(Span {
        start: f,
        end: m,
        value: ImageSource::Zero,
    });
}

fn clip_image(s: &Span<ImageSource>, cut: u64) -> Option<Span<ImageSource>> {
    let skip = cut - s.start;
    let value = match s.value {
        ImageSource::File { offset } => ImageSource::File {
            offset: offset.saturating_add(skip),
        },
        ImageSource::Truncated { offset } => ImageSource::Truncated {
            offset: offset.saturating_add(skip),
        },
        ImageSource::Zero => ImageSource::Zero,
    };
    Some(Span {
        start: cut,
        end: s.end,
        value,
    })
}

/// Overlapping segments (malformed input) are listed once, first one wins.
pub(crate) fn dedup_regions(mut regions: Vec<Region>) -> Vec<Region> {
    regions.sort_by_key(|r| (r.start, r.end));
    let mut out: Vec<Region> = Vec::with_capacity(regions.len());
    for mut r in regions {
        if let Some(prev) = out.last() {
            if r.start < prev.end {
                if r.end <= prev.end {
                    continue;
                }
                r.start = prev.end;
            }
        }
        out.push(r);
    }
    out
}

impl Memory for ImageMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let (want, len) = (addr, buf.len() as u64);
        let data = self.bytes();
        read_spans(&self.table, addr, buf, |span, off, out, at| match span.value {
            ImageSource::File { offset } => {
                let src = offset
                    .checked_add(off)
                    .and_then(|o| usize::try_from(o).ok())
                    .and_then(|o| data.get(o..o.checked_add(out.len())?))
                    .ok_or(MemoryError::unmapped(want, len as usize, at))?;
                out.copy_from_slice(src);
                Ok(())
            }
            ImageSource::Truncated { offset } => Err(MemoryError::BeyondFileEnd {
                addr: want,
                len,
                at,
                what: self.describe(),
                file_offset: offset.saturating_add(off),
                file_len: data.len() as u64,
            }),
            ImageSource::Zero => {
                out.fill(0);
                Ok(())
            }
        })
    }

    fn regions(&self) -> Vec<Region> {
        self.regions.clone()
    }

    fn region_at(&self, addr: u64) -> Option<Region> {
        find_region(&self.regions, addr).cloned()
    }

    fn is_mapped(&self, addr: u64, len: u64) -> bool {
        self.table
            .covers(addr, len, |s| !matches!(s, ImageSource::Truncated { .. }))
    }

    fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    fn pointer_size(&self) -> usize {
        self.pointer_size
    }
}
