//! The executable's bytes and where they land in memory: ELF header facts,
//! sections and PT_LOAD segments, and bounds-checked reads by virtual address.

use std::ops::Range;

use object::{Object, ObjectSection, ObjectSegment};

use super::bytes::ByteOrder;
use super::error::{BinaryError, Result};

/// Target architecture of the executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    Amd64,
    Arm64,
}

impl Arch {
    /// The name Go uses for GOARCH.
    pub fn goarch(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
        }
    }
}

/// One ELF section header, as far as mapscope needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub name: String,
    pub addr: u64,
    pub size: u64,
    /// Where the section's bytes are in the file; `None` for NOBITS (.bss).
    pub file_range: Option<Range<u64>>,
    /// SHF_COMPRESSED: the file holds a compression header, not the raw bytes.
    pub compressed: bool,
    pub writable: bool,
}

/// One PT_LOAD program header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    pub addr: u64,
    pub mem_size: u64,
    pub file_range: Range<u64>,
    pub writable: bool,
}

pub(crate) enum Backing {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mapped(m) => m,
            Backing::Owned(v) => v,
        }
    }
}

pub(crate) struct Image {
    backing: Backing,
    pub arch: Arch,
    pub ptr_size: u8,
    pub order: ByteOrder,
    pub sections: Vec<Section>,
    pub segments: Vec<Segment>,
    pub has_symtab: bool,
}

const SHF_WRITE: u64 = 0x1;
const SHF_COMPRESSED: u64 = 0x800;

impl Image {
    pub fn new(backing: Backing) -> Result<Image> {
        let data = backing.bytes();
        let file = object::File::parse(data).map_err(|e| BinaryError::NotElf(e.to_string()))?;
        if file.format() != object::BinaryFormat::Elf {
            return Err(BinaryError::NotElf(format!(
                "{:?} object; only ELF is supported",
                file.format()
            )));
        }
        if file.kind() == object::ObjectKind::Core {
            return Err(BinaryError::CoreNotExecutable);
        }
        let arch = match file.architecture() {
            object::Architecture::X86_64 => Arch::Amd64,
            object::Architecture::Aarch64 => Arch::Arm64,
            other => return Err(BinaryError::UnsupportedArch(format!("{other:?}"))),
        };
        let ptr_size = if file.is_64() { 8 } else { 4 };
        if ptr_size != 8 {
            return Err(BinaryError::UnsupportedPointerSize(ptr_size));
        }
        let order = if file.is_little_endian() {
            ByteOrder::Little
        } else {
            ByteOrder::Big
        };
        let len = data.len() as u64;
        // Addresses this close to the top would let small field offsets
        // overflow; no real executable maps anything there.
        let sane = |addr: u64, size: u64| addr.checked_add(size).is_some_and(|e| e < u64::MAX - (1 << 32));
        let in_file = |r: Option<(u64, u64)>| -> Option<Range<u64>> {
            let (off, size) = r?;
            let end = off.checked_add(size)?;
            (end <= len).then_some(off..end)
        };
        let mut sections = Vec::new();
        for s in file.sections() {
            let flags = match s.flags() {
                object::SectionFlags::Elf { sh_flags } => sh_flags,
                _ => 0,
            };
            if !sane(s.address(), s.size()) {
                continue;
            }
            sections.push(Section {
                name: s.name().unwrap_or("").to_string(),
                addr: s.address(),
                size: s.size(),
                file_range: in_file(s.file_range()),
                compressed: flags & SHF_COMPRESSED != 0,
                writable: flags & SHF_WRITE != 0,
            });
        }
        let mut segments = Vec::new();
        for s in file.segments() {
            let writable = matches!(s.flags(), object::SegmentFlags::Elf { p_flags } if p_flags & 2 != 0);
            if !sane(s.address(), s.size()) {
                continue;
            }
            if let Some(file_range) = in_file(Some(s.file_range())) {
                segments.push(Segment {
                    addr: s.address(),
                    mem_size: s.size(),
                    file_range,
                    writable,
                });
            }
        }
        let has_symtab = file.symbol_table().is_some();
        drop(file);
        Ok(Image {
            backing,
            arch,
            ptr_size,
            order,
            sections,
            segments,
            has_symtab,
        })
    }

    pub fn data(&self) -> &[u8] {
        self.backing.bytes()
    }

    pub fn section(&self, name: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.name == name)
    }

    /// The file bytes of an uncompressed section.
    pub fn section_data(&self, s: &Section) -> Option<&[u8]> {
        let r = s.file_range.as_ref()?;
        self.data()
            .get(usize::try_from(r.start).ok()?..usize::try_from(r.end).ok()?)
    }

    /// The file bytes that back `vaddr..` up to the end of whichever section or
    /// segment contains it; sections win because they are tighter.
    pub fn bytes_from(&self, vaddr: u64) -> Option<&[u8]> {
        let sec = self.sections.iter().find_map(|s| {
            let fr = s.file_range.as_ref()?;
            if s.compressed || s.addr == 0 || vaddr < s.addr {
                return None;
            }
            let delta = vaddr - s.addr;
            let fsize = fr.end - fr.start;
            (delta < s.size.min(fsize)).then(|| (fr.start + delta)..(fr.start + s.size.min(fsize)))
        });
        let r = sec.or_else(|| {
            self.segments.iter().find_map(|s| {
                if vaddr < s.addr {
                    return None;
                }
                let delta = vaddr - s.addr;
                let fsize = s.file_range.end - s.file_range.start;
                (delta < fsize).then(|| (s.file_range.start + delta)..s.file_range.end)
            })
        })?;
        self.data()
            .get(usize::try_from(r.start).ok()?..usize::try_from(r.end).ok()?)
    }

    /// Exactly `len` bytes at `vaddr`, or an error naming `what` was wanted.
    pub fn read(&self, vaddr: u64, len: u64, what: &'static str) -> Result<&[u8]> {
        let unmapped = || BinaryError::Unmapped { what, addr: vaddr, len };
        let n = usize::try_from(len).map_err(|_| unmapped())?;
        self.bytes_from(vaddr).and_then(|b| b.get(..n)).ok_or_else(unmapped)
    }

    pub fn u8(&self, vaddr: u64, what: &'static str) -> Result<u8> {
        self.read(vaddr, 1, what).map(|b| b.first().copied().unwrap_or(0))
    }

    pub fn u16(&self, vaddr: u64, what: &'static str) -> Result<u16> {
        let b = self.read(vaddr, 2, what)?;
        self.order.u16(b, 0).ok_or(BinaryError::Unmapped {
            what,
            addr: vaddr,
            len: 2,
        })
    }

    pub fn u32(&self, vaddr: u64, what: &'static str) -> Result<u32> {
        let b = self.read(vaddr, 4, what)?;
        self.order.u32(b, 0).ok_or(BinaryError::Unmapped {
            what,
            addr: vaddr,
            len: 4,
        })
    }

    pub fn word(&self, vaddr: u64, what: &'static str) -> Result<u64> {
        let n = u64::from(self.ptr_size);
        let b = self.read(vaddr, n, what)?;
        self.order.uptr(b, 0, self.ptr_size).ok_or(BinaryError::Unmapped {
            what,
            addr: vaddr,
            len: n,
        })
    }

    /// Is `vaddr` inside some loaded part of the file (section or segment)?
    pub fn is_mapped(&self, vaddr: u64) -> bool {
        self.bytes_from(vaddr).is_some()
    }

    /// Read-only data where Go puts its metadata when section headers are gone.
    pub fn readonly_ranges(&self) -> Vec<(u64, usize, &[u8])> {
        self.ranges(false)
    }

    /// Writable file-backed data (where .go.buildinfo and .noptrdata live).
    pub fn writable_ranges(&self) -> Vec<(u64, usize, &[u8])> {
        self.ranges(true)
    }

    /// (vaddr, file offset, bytes) of the PT_LOAD segments with that writability.
    fn ranges(&self, writable: bool) -> Vec<(u64, usize, &[u8])> {
        let mut out = Vec::new();
        for s in self.segments.iter().filter(|s| s.writable == writable) {
            if let Some(b) = self.data().get(
                usize::try_from(s.file_range.start).unwrap_or(usize::MAX)
                    ..usize::try_from(s.file_range.end).unwrap_or(usize::MAX),
            ) {
                out.push((s.addr, s.file_range.start as usize, b));
            }
        }
        out
    }
}
