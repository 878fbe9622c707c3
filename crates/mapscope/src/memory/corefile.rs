//! ELF core dumps from the Linux kernel and from gdb's `gcore`.
//!
//! The core is memory-mapped and only its headers and notes are parsed at open,
//! so multi-gigabyte sparse cores open at once. Every address range is resolved
//! once, at open (and again when an executable is attached), to where its bytes
//! come from ([`CoreSource`]):
//!
//! * bytes the core holds: `p_offset..p_offset+p_filesz`, clipped to the real
//!   file length so a truncated core never reads past its end or into the next
//!   segment;
//! * the `p_memsz > p_filesz` tail of a segment and mappings the core omitted:
//!   if NT_FILE says a file backs them they are *missing*, not zero (the kernel
//!   keeps only the first page of an unmodified file mapping, gcore drops
//!   read-only file mappings entirely), and they are served from the executable
//!   when it is the file, or fail naming the file; otherwise they are anonymous
//!   memory that was never touched, which really is zero.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::coresources::{build_regions, build_table};
use super::elfhdr;
use super::error::MemoryError;
use super::ext::MemoryExt;
use super::image::{ImageMemory, SharedBytes, ET_CORE};
use super::notes::{self, CoreNotes, FileMapping, AT_ENTRY, AT_EXECFN, AT_PAGESZ, AT_PHDR};
use super::region::{find_region, Permissions, Region};
use super::spans::{read_spans, SpanTable};
use super::{ByteOrder, Memory};

/// One PT_LOAD segment of the core.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreSegment {
    pub vaddr: u64,
    pub memsz: u64,
    pub file_offset: u64,
    /// `p_filesz` as the header claims it.
    pub filesz: u64,
    /// Bytes of `filesz` actually present in the file (less when the core is truncated).
    pub available: u64,
    pub perms: Permissions,
}

/// Where the bytes of an address range come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CoreSource {
    /// The core file, from this offset.
    Core { file_offset: u64 },
    /// Inside `p_filesz`, but the core file ends before this offset.
    Truncated { file_offset: u64 },
    /// Anonymous memory the core did not store because it was never touched.
    Zero,
    /// A mapping without read permission (Go's reserved, PROT_NONE arenas):
    /// the program itself could not read it, so neither do we.
    NoAccess,
    /// The executable's file bytes from this offset (an NT_FILE mapping of it).
    Executable { file_offset: u64 },
    /// The executable's image at this (unbiased) virtual address, for cores
    /// without NT_FILE information about it; only read-only segments are used.
    ExecutableImage { vaddr: u64 },
    /// Backed by a file that was not supplied.
    Unavailable { path: Arc<PathBuf> },
}

/// A range of addresses and the source of its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CoreSpan {
    pub start: u64,
    pub end: u64,
    pub source: CoreSource,
}

pub(super) struct Attached {
    pub(super) image: Arc<ImageMemory>,
    /// Added to the image's addresses to get the process's (non-zero for PIE);
    /// unknown for a PIE when the core has no auxiliary vector.
    pub(super) bias: Option<u64>,
    /// NT_FILE paths that name the executable.
    pub(super) paths: Vec<Arc<PathBuf>>,
}

pub struct CoreFile {
    bytes: SharedBytes,
    /// The mapping itself, when the core was mapped, so pages read once can
    /// be handed back (`release_cache`).
    map: Option<Arc<memmap2::Mmap>>,
    path: Option<PathBuf>,
    byte_order: ByteOrder,
    pointer_size: usize,
    machine: u16,
    segments: Vec<CoreSegment>,
    notes: CoreNotes,
    table: SpanTable<CoreSource>,
    regions: Vec<Region>,
    exe: Option<Attached>,
    warnings: Vec<String>,
}

impl std::fmt::Debug for CoreFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CoreFile")
            .field("path", &self.path)
            .field("len", &self.file_len())
            .field("segments", &self.segments.len())
            .field("threads", &self.notes.threads.len())
            .field("executable", &self.exe.as_ref().map(|e| e.image.path()))
            .finish()
    }
}

/// A core has at most this many PT_LOAD segments that we keep (the kernel caps
/// mappings per process at 65530 by default; extended numbering allows more).
const MAX_SEGMENTS: usize = 1 << 22;
const DEFAULT_PAGE: u64 = 4096;

impl CoreFile {
    /// Memory-maps and parses the core at `path` (headers and notes only).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, MemoryError> {
        let path = path.as_ref();
        let io = |op, source| MemoryError::Io {
            op,
            path: path.to_path_buf(),
            source,
        };
        let file = File::open(path).map_err(|e| io("cannot open core", e))?;
        let meta = file.metadata().map_err(|e| io("cannot stat core", e))?;
        if !meta.is_file() {
            return Err(MemoryError::malformed(
                "core",
                if meta.is_dir() {
                    "a directory, not a core file"
                } else {
                    "not a regular file (a device or pipe), not a core file"
                },
            ));
        }
        let len = meta.len();
        if len == 0 {
            return Err(MemoryError::malformed("core", "the file is empty"));
        }
        // SAFETY: read-only private mapping. If the file is truncated by someone
        // else while mapped, touching the lost pages raises SIGBUS; that is the
        // accepted limit of mmap-based readers (cores are not rewritten in place).
        let map = Arc::new(unsafe { memmap2::Mmap::map(&file) }.map_err(|e| io("cannot map core", e))?);
        let mut core = Self::from_bytes(map.clone())?;
        core.map = Some(map);
        core.path = Some(path.to_path_buf());
        Ok(core)
    }

    /// Opens a core and attaches the executable at `exe`.
    pub fn open_with_executable(core: impl AsRef<Path>, exe: impl AsRef<Path>) -> Result<Self, MemoryError> {
        let mut c = Self::open(core)?;
        c.attach_executable(ImageMemory::open(exe)?)?;
        Ok(c)
    }

    /// Parses a core held in memory (tests, fuzzing, or bytes mapped elsewhere).
    pub fn from_bytes(bytes: SharedBytes) -> Result<Self, MemoryError> {
        let data: &[u8] = (*bytes).as_ref();
        let hdr = elfhdr::parse(data, "core")?;
        if hdr.e_type != ET_CORE {
            return Err(MemoryError::Unsupported {
                what: "core",
                reason: format!("ELF type {} is not a core dump (ET_CORE = 4)", hdr.e_type),
            });
        }
        let mut warnings = hdr.warnings.clone();
        let file_len = data.len() as u64;
        let mut segments = Vec::new();
        for l in hdr.loads.iter() {
            if segments.len() >= MAX_SEGMENTS {
                warnings.push("too many PT_LOAD segments; the rest were ignored".into());
                break;
            }
            if l.memsz == 0 {
                continue;
            }
            if l.vaddr.checked_add(l.memsz).is_none() {
                warnings.push(format!("segment at {:#x} wraps the address space; ignored", l.vaddr));
                continue;
            }
            let filesz = l.filesz.min(l.memsz);
            let available = file_len.saturating_sub(l.offset).min(filesz);
            if available < filesz {
                warnings.push(format!(
                    "segment at {:#x} is cut short: {:#x} of {:#x} bytes present (truncated core)",
                    l.vaddr, available, filesz
                ));
            }
            segments.push(CoreSegment {
                vaddr: l.vaddr,
                memsz: l.memsz,
                file_offset: l.offset,
                filesz,
                available,
                perms: Permissions::from_elf_flags(l.flags),
            });
        }
        segments.sort_by_key(|s| (s.vaddr, s.memsz));
        let notes = notes::parse_notes(&hdr.notes, hdr.byte_order, hdr.is_64, hdr.e_machine);
        warnings.extend(notes.warnings.iter().cloned());
        let mut core = CoreFile {
            bytes,
            map: None,
            path: None,
            byte_order: hdr.byte_order,
            pointer_size: if hdr.is_64 { 8 } else { 4 },
            machine: hdr.e_machine,
            segments,
            notes,
            table: SpanTable::default(),
            regions: Vec::new(),
            exe: None,
            warnings,
        };
        core.rebuild();
        Ok(core)
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    pub fn file_len(&self) -> u64 {
        (*self.bytes).as_ref().len() as u64
    }

    /// ELF `e_machine` of the dumped process.
    pub fn machine(&self) -> u16 {
        self.machine
    }

    pub fn segments(&self) -> &[CoreSegment] {
        &self.segments
    }

    pub fn notes(&self) -> &CoreNotes {
        &self.notes
    }

    /// Problems found while parsing that did not stop it (truncation, bad notes).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// True when some segment's bytes extend beyond the end of the file.
    pub fn is_truncated(&self) -> bool {
        self.segments.iter().any(|s| s.available < s.filesz)
    }

    pub fn executable(&self) -> Option<&ImageMemory> {
        self.exe.as_ref().map(|e| &*e.image)
    }

    /// The load bias of the attached executable (0 unless it is a PIE).
    pub fn executable_bias(&self) -> Option<u64> {
        self.exe.as_ref().and_then(|e| e.bias)
    }

    /// Where every address range's bytes come from, sorted by address.
    pub fn spans(&self) -> Vec<CoreSpan> {
        self.table
            .iter()
            .map(|s| CoreSpan {
                start: s.start,
                end: s.end,
                source: s.value.clone(),
            })
            .collect()
    }

    /// The source of the byte at `addr`.
    pub fn source_at(&self, addr: u64) -> Option<CoreSpan> {
        self.table.find(addr).map(|s| CoreSpan {
            start: s.start,
            end: s.end,
            source: s.value.clone(),
        })
    }

    fn page_size(&self) -> u64 {
        self.notes
            .page_size
            .or_else(|| self.notes.auxv_value(AT_PAGESZ))
            .filter(|p| p.is_power_of_two() && (512..=(1 << 30)).contains(p))
            .unwrap_or(DEFAULT_PAGE)
    }

    /// The NT_FILE mapping of the main executable: the one holding the entry
    /// point (or the program headers) from the auxiliary vector, else the first
    /// offset-0 mapping whose file name starts with the command name.
    pub fn main_executable_mapping(&self) -> Option<&FileMapping> {
        for key in [AT_ENTRY, AT_PHDR] {
            if let Some(f) = self.notes.auxv_value(key).and_then(|a| self.notes.file_at(a)) {
                return Some(f);
            }
        }
        let fname = self.notes.process.as_ref()?.fname.as_str();
        if fname.is_empty() {
            return None;
        }
        self.notes.files.iter().find(|f| {
            f.file_offset == 0
                && f.path
                    .file_name()
                    .map(|n| n.to_string_lossy().starts_with(fname))
                    .unwrap_or(false)
        })
    }

    /// The path of the dumped program, for `EXE = -`: the executable's NT_FILE
    /// mapping, else the AT_EXECFN string from the dumped stack.
    /// A `" (deleted)"` suffix (the file was replaced after the program
    /// started, as a rebuild does) is dropped; attaching checks the file is the same build.
    pub fn executable_path(&self) -> Option<PathBuf> {
        if let Some(f) = self.main_executable_mapping() {
            let p = f.path.as_os_str().as_encoded_bytes();
            let p = p.strip_suffix(b" (deleted)").unwrap_or(p);
            return Some(notes::path_from_bytes(p));
        }
        let p = self.notes.auxv_value(AT_EXECFN)?;
        let s = self.read_cstr(p, 4096).ok()?;
        (!s.is_empty()).then(|| notes::path_from_bytes(&s))
    }

    /// Builder form of [`CoreFile::attach_executable`].
    pub fn with_executable(mut self, image: ImageMemory) -> Result<Self, MemoryError> {
        self.attach_executable(image)?;
        Ok(self)
    }

    /// Supplies the executable, whose bytes then serve the file-backed ranges the
    /// core left out. Fails, leaving the core unchanged, when the executable is
    /// clearly not the dumped program's: another machine, an entry point that
    /// does not match the auxiliary vector, or a first page that differs from
    /// the one the core kept.
    pub fn attach_executable(&mut self, image: ImageMemory) -> Result<(), MemoryError> {
        self.attach(image, true)
    }

    /// Like [`CoreFile::attach_executable`] but without the identity checks
    /// (for a user who insists, e.g. a `--force` flag). Ranges the core holds
    /// still come from the core.
    pub fn attach_executable_unchecked(&mut self, image: ImageMemory) -> Result<(), MemoryError> {
        self.attach(image, false)
    }

    fn attach(&mut self, image: ImageMemory, check: bool) -> Result<(), MemoryError> {
        let mismatch = |reason: String| {
            if check {
                Err(MemoryError::ExecutableMismatch { reason })
            } else {
                Ok(())
            }
        };
        if image.machine() != self.machine {
            mismatch(format!(
                "the executable is for machine {} but the core for {}",
                image.machine(),
                self.machine
            ))?;
        }
        if image.byte_order() != self.byte_order || image.pointer_size() != self.pointer_size {
            // Reading through an image of another word size or byte order would
            // misplace every byte; never allowed.
            return Err(MemoryError::ExecutableMismatch {
                reason: "the executable's ELF class or byte order differs from the core's".into(),
            });
        }
        let main = self.main_executable_mapping().cloned();
        let at_entry = self.notes.auxv_value(AT_ENTRY);
        let bias = if image.is_pie() {
            let from_entry = at_entry.map(|e| e.wrapping_sub(image.entry()));
            let from_map = main.as_ref().filter(|m| m.file_offset == 0).and_then(|m| {
                let first = image.segments().iter().find(|s| s.file_offset == 0)?;
                Some(m.start.wrapping_sub(first.vaddr & !(self.page_size() - 1)))
            });
            match from_entry.or(from_map) {
                Some(b) if b % self.page_size() == 0 => Some(b),
                Some(b) => {
                    mismatch(format!("load bias {b:#x} is not page aligned"))?;
                    None
                }
                None => None,
            }
        } else {
            if let Some(e) = at_entry {
                if e != image.entry() {
                    mismatch(format!(
                        "the core's entry point is {e:#x}, the executable's {:#x}",
                        image.entry()
                    ))?;
                }
            }
            Some(0)
        };
        let mut paths: Vec<Arc<PathBuf>> = Vec::new();
        if let Some(m) = &main {
            paths.push(m.path.clone());
        } else if let Some(name) = image.path().and_then(|p| p.file_name()) {
            // No auxv: recognise the executable's mappings by file name.
            for f in &self.notes.files {
                if f.path.file_name() == Some(name) && !paths.contains(&f.path) {
                    paths.push(f.path.clone());
                }
            }
        }
        if check {
            self.check_first_page(&image, main.as_ref(), bias)?;
        }
        self.exe = Some(Attached {
            image: Arc::new(image),
            bias,
            paths,
        });
        if bias.is_none() {
            self.warnings
                .push("PIE executable without an entry point in the core: only NT_FILE ranges use it".into());
        }
        self.rebuild();
        Ok(())
    }

    /// Checks the executable against the bytes of it the core kept (the kernel
    /// keeps the ELF header page, gcore the whole text). The loaded notes —
    /// the Go and GNU build IDs — decide when the core holds them: they survive
    /// `strip`, which rewrites other parts of the first page. Without them, the
    /// first page is compared except for the section-table fields.
    fn check_first_page(
        &self,
        image: &ImageMemory,
        main: Option<&FileMapping>,
        bias: Option<u64>,
    ) -> Result<(), MemoryError> {
        let mismatch = |reason: String| Err(MemoryError::ExecutableMismatch { reason });
        if let Some(b) = bias {
            let mut compared = false;
            for &(vaddr, offset, size) in image.note_ranges() {
                let Some(at) = vaddr.checked_add(b) else { continue };
                let (Some(kept), Some(own)) = (self.core_only(at, size), file_slice(image.bytes(), offset, size))
                else {
                    continue;
                };
                if kept != own {
                    return mismatch(format!(
                        "the build ID notes at {at:#x} differ from the executable's (another build)"
                    ));
                }
                compared = true;
            }
            if compared {
                return Ok(());
            }
        }
        let at = match (main.filter(|m| m.file_offset == 0), bias) {
            (Some(m), _) => Some(m.start),
            (None, Some(b)) => image
                .segments()
                .iter()
                .find(|s| s.file_offset == 0)
                .and_then(|s| s.vaddr.checked_add(b)),
            _ => None,
        };
        let Some(at) = at else { return Ok(()) };
        let n = self.page_size().min(image.file_len());
        // Compare as much of the page as the core holds.
        let held = match self.table.find(at) {
            Some(span) if matches!(span.value, CoreSource::Core { .. }) => n.min(span.end - at),
            _ => return Ok(()),
        };
        match (self.core_only(at, held), file_slice(image.bytes(), 0, held)) {
            (Some(k), Some(o)) if !same_loaded_page(k, o, self.pointer_size == 8) => mismatch(format!(
                "the first {held} bytes of the executable differ from the copy in the core at {at:#x} \
                 (a different build?)"
            )),
            _ => Ok(()),
        }
    }

    /// Bytes at `addr..addr+len` if the core file itself holds all of them.
    fn core_only(&self, addr: u64, len: u64) -> Option<&[u8]> {
        let span = self.table.find(addr)?;
        let CoreSource::Core { file_offset } = span.value else {
            return None;
        };
        if addr.checked_add(len)? > span.end {
            return None;
        }
        file_slice(self.core_bytes(), file_offset.checked_add(addr - span.start)?, len)
    }

    fn rebuild(&mut self) {
        self.table = build_table(&self.segments, &self.notes, self.exe.as_ref());
        self.regions = build_regions(&self.segments, &self.notes, self.exe.as_ref());
    }

    fn core_bytes(&self) -> &[u8] {
        (*self.bytes).as_ref()
    }
}

fn file_slice(data: &[u8], offset: u64, len: u64) -> Option<&[u8]> {
    let o = usize::try_from(offset).ok()?;
    data.get(o..o.checked_add(usize::try_from(len).ok()?)?)
}

/// Compares an executable's first page with the core's copy, ignoring the ELF
/// header's section-table fields (e_shoff, e_shnum, e_shstrndx): `strip` and
/// `objcopy` change those and nothing the program loads, and a stripped or
/// debug-carrying copy of the same build must still be accepted.
fn same_loaded_page(kept: &[u8], own: &[u8], is_64: bool) -> bool {
    let ignore: &[std::ops::Range<usize>] = if is_64 {
        &[0x28..0x30, 0x3c..0x40]
    } else {
        &[0x20..0x24, 0x30..0x34]
    };
    kept.len() == own.len()
        && kept
            .iter()
            .zip(own)
            .enumerate()
            .all(|(i, (a, b))| a == b || ignore.iter().any(|r| r.contains(&i)))
}

impl Memory for CoreFile {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let (want, len) = (addr, buf.len());
        let data = self.core_bytes();
        read_spans(&self.table, addr, buf, |span, off, out, at| match &span.value {
            CoreSource::Core { file_offset } => {
                let src = file_offset
                    .checked_add(off)
                    .and_then(|o| usize::try_from(o).ok())
                    .and_then(|o| data.get(o..o.checked_add(out.len())?))
                    .ok_or(MemoryError::TruncatedCore {
                        addr: want,
                        len: len as u64,
                        at,
                        file_offset: file_offset.saturating_add(off),
                        file_len: data.len() as u64,
                    })?;
                out.copy_from_slice(src);
                Ok(())
            }
            CoreSource::Truncated { file_offset } => Err(MemoryError::TruncatedCore {
                addr: want,
                len: len as u64,
                at,
                file_offset: file_offset.saturating_add(off),
                file_len: data.len() as u64,
            }),
            CoreSource::Zero => {
                out.fill(0);
                Ok(())
            }
            CoreSource::NoAccess => Err(MemoryError::NoAccess {
                addr: want,
                len: len as u64,
                at,
            }),
            CoreSource::Executable { file_offset } => {
                let exe = self.exe.as_ref().ok_or(MemoryError::unmapped(want, len, at))?;
                read_exe_file(&exe.image, file_offset.saturating_add(off), out, self.page_size()).map_err(
                    |(file_offset, file_len)| MemoryError::BeyondFileEnd {
                        addr: want,
                        len: len as u64,
                        at,
                        what: exe.image.describe(),
                        file_offset,
                        file_len,
                    },
                )
            }
            CoreSource::ExecutableImage { vaddr } => {
                let exe = self.exe.as_ref().ok_or(MemoryError::unmapped(want, len, at))?;
                exe.image.read(vaddr.saturating_add(off), out)
            }
            CoreSource::Unavailable { path } => Err(MemoryError::FileUnavailable {
                addr: want,
                len: len as u64,
                at,
                path: path.as_ref().clone(),
            }),
        })
    }

    fn regions(&self) -> Vec<Region> {
        self.regions.clone()
    }

    fn release_cache(&self) {
        if let Some(map) = &self.map {
            // SAFETY: the mapping is private and read-only, never written:
            // dropped pages read back from the file with the same bytes.
            let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }

    fn region_at(&self, addr: u64) -> Option<Region> {
        find_region(&self.regions, addr).cloned()
    }

    fn is_mapped(&self, addr: u64, len: u64) -> bool {
        self.table.covers(addr, len, |s| {
            !matches!(
                s,
                CoreSource::Truncated { .. } | CoreSource::Unavailable { .. } | CoreSource::NoAccess
            )
        })
    }

    fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    fn pointer_size(&self) -> usize {
        self.pointer_size
    }
}

/// Reads file bytes as a mapping shows them: bytes past the end of the file
/// but inside its last page read as zero; whole pages past it do not exist.
/// Errors give the failing file offset and the file length.
fn read_exe_file(image: &ImageMemory, offset: u64, out: &mut [u8], page: u64) -> Result<(), (u64, u64)> {
    let data = image.bytes();
    let file_len = data.len() as u64;
    let have = usize::try_from(file_len.saturating_sub(offset))
        .unwrap_or(usize::MAX)
        .min(out.len());
    if have > 0 {
        let o = offset as usize; // offset < file_len <= usize::MAX
        let src = data.get(o..o + have).ok_or((offset, file_len))?;
        out.get_mut(..have).ok_or((offset, file_len))?.copy_from_slice(src);
    }
    if have < out.len() {
        let past = offset.saturating_add(have as u64);
        let last_page_end = file_len.div_ceil(page).saturating_mul(page);
        let need_end = offset.saturating_add(out.len() as u64);
        if need_end > last_page_end {
            return Err((past.max(last_page_end), file_len));
        }
        if let Some(rest) = out.get_mut(have..) {
            rest.fill(0);
        }
    }
    Ok(())
}
