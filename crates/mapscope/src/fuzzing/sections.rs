//! Structure-aware fuzzing of executables: a real Go binary whose section
//! contents and chosen section header fields are patched, while the ELF
//! header and the section header table stay where they are. Random bytes
//! seldom get past the ELF parser; these reach buildinfo, pclntab,
//! moduledata, the type descriptors and DWARF.

use std::ops::Range;

use object::{Object, ObjectSection};

use super::Cursor;
use crate::binary::GoBinary;

/// The Go-specific parsers, grouped by the sections that feed them. An
/// input first names the family it fuzzes; its patches land only in that
/// family's sections and only that family's parsers run (whole-binary
/// probes on every execution are what kept `binary_parse` at 27 exec/s, and
/// DWARF indexing alone costs more than all the others together).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Family {
    /// .gopclntab, .text: functions, lines, frame sizes, the variant.
    Pcln,
    /// .rodata, .typelink, .data, .go.buildinfo, ...: type descriptors,
    /// moduledata, build info, `runtime.buildVersion`.
    Types,
    /// .symtab, .strtab.
    Symbols,
    /// .debug_*: globals and types from DWARF.
    Dwarf,
}

const FAMILIES: [Family; 4] = [Family::Pcln, Family::Types, Family::Symbols, Family::Dwarf];

impl Family {
    fn of(name: &str) -> Family {
        match name {
            ".gopclntab" | ".text" => Family::Pcln,
            ".symtab" | ".strtab" => Family::Symbols,
            n if n.starts_with(".debug") || n.starts_with(".zdebug") => Family::Dwarf,
            _ => Family::Types,
        }
    }
}

struct Sec {
    file: Range<usize>,
    /// Where this section's header (Elf64_Shdr) is in the file.
    header: usize,
    addr: u64,
}

/// A real little-endian ELF64 Go executable, its sections found once.
pub struct SectionsBase {
    image: Vec<u8>,
    /// Per family, in `FAMILIES` order; a family the binary lacks (a
    /// stripped binary's DWARF) is left out.
    families: Vec<(Family, Vec<Sec>)>,
}

impl SectionsBase {
    /// `None` when `image` is not a little-endian ELF64 with sections.
    /// Compressed sections (Go compresses DWARF) are stored decompressed at
    /// the end of the image, so that patches land in DWARF, not in a zlib
    /// stream that no longer inflates, and no execution pays for inflating.
    pub fn new(image: Vec<u8>) -> Option<SectionsBase> {
        let shoff = usize::try_from(u64::from_le_bytes(image.get(0x28..0x30)?.try_into().ok()?)).ok()?;
        let shentsize = usize::from(u16::from_le_bytes(image.get(0x3a..0x3c)?.try_into().ok()?));
        let image = Self::decompressed(image, shoff, shentsize)?;
        let file = object::read::elf::ElfFile64::<object::LittleEndian>::parse(&*image).ok()?;
        let mut families: Vec<(Family, Vec<Sec>)> = FAMILIES.iter().map(|&f| (f, Vec::new())).collect();
        for s in file.sections() {
            let Some((off, size)) = s.file_range() else {
                continue;
            };
            let (Ok(off), Ok(size)) = (usize::try_from(off), usize::try_from(size)) else {
                continue;
            };
            if size == 0 || !matches!(off.checked_add(size), Some(end) if end <= image.len()) {
                continue;
            }
            let family = Family::of(s.name().unwrap_or(""));
            let list = &mut families.iter_mut().find(|(f, _)| *f == family)?.1;
            list.push(Sec {
                file: off..off + size,
                header: shoff.checked_add(s.index().0.checked_mul(shentsize)?)?,
                addr: s.address(),
            });
        }
        families.retain(|(_, l)| !l.is_empty());
        if families.is_empty() {
            return None;
        }
        Some(SectionsBase { image, families })
    }

    fn decompressed(mut image: Vec<u8>, shoff: usize, shentsize: usize) -> Option<Vec<u8>> {
        const SHF_COMPRESSED: u64 = 0x800;
        let mut moved = Vec::new();
        {
            let file = object::read::elf::ElfFile64::<object::LittleEndian>::parse(&*image).ok()?;
            for s in file.sections() {
                let Ok(data) = s.compressed_data() else {
                    continue;
                };
                if data.format == object::CompressionFormat::None {
                    continue;
                }
                let bytes = data.decompress().ok()?.into_owned();
                moved.push((shoff + s.index().0 * shentsize, bytes));
            }
        }
        for (header, bytes) in moved {
            while image.len() % 8 != 0 {
                image.push(0);
            }
            let (off, len) = (image.len() as u64, bytes.len() as u64);
            image.extend_from_slice(&bytes);
            let word = |image: &mut Vec<u8>, at: usize, f: &dyn Fn(u64) -> u64| -> Option<()> {
                let slot = image.get_mut(header + at..header + at + 8)?;
                let v = f(u64::from_le_bytes(slot.try_into().ok()?));
                slot.copy_from_slice(&v.to_le_bytes());
                Some(())
            };
            word(&mut image, 0x08, &|flags| flags & !SHF_COMPRESSED)?;
            word(&mut image, 0x18, &|_| off)?;
            word(&mut image, 0x20, &|_| len)?;
        }
        Some(image)
    }

    /// Sections that patches can reach.
    pub fn len(&self) -> usize {
        self.families.iter().map(|(_, l)| l.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.families.is_empty()
    }

    /// True when the binary has sections of DWARF to fuzz.
    pub fn has_dwarf(&self) -> bool {
        self.families.iter().any(|(f, _)| *f == Family::Dwarf)
    }

    /// The image with `data`'s patches applied, the family they fuzz, and
    /// whether a section header moved. The patch language: the family (one
    /// byte), then patches of one opcode byte (low two bits the kind, the
    /// rest the section) and the kind's operands.
    fn patched(&self, data: &[u8]) -> (Vec<u8>, Family, bool) {
        let mut img = self.image.clone();
        let mut c = Cursor(data);
        let Some((family, sections)) = self.families.get(usize::from(c.u8()) % self.families.len().max(1)) else {
            return (img, Family::Types, false);
        };
        let mut moved = false;
        let mut n = 0;
        while !c.is_empty() && n < 64 {
            n += 1;
            let op = c.u8();
            let Some(s) = sections.get(usize::from(op >> 2) % sections.len()) else {
                break;
            };
            let len = s.file.len();
            let at = s.file.start + c.u32() as usize % len;
            let room = s.file.end - at;
            match op & 3 {
                // Bytes copied from the input.
                0 => {
                    let k = usize::from(c.u8() % 33).min(room);
                    let src = c.bytes(k);
                    put(&mut img, at, src);
                }
                // A word that means something to a parser: a size, an
                // address inside or just past the section, an extreme.
                1 => {
                    let v = match c.u8() % 10 {
                        0 => 0,
                        1 => 1,
                        2 => u64::MAX,
                        3 => u64::from(u32::MAX),
                        4 => 1 << 31,
                        5 => i64::MAX as u64,
                        6 => len as u64,
                        7 => s.addr,
                        8 => s.addr.wrapping_add(len as u64),
                        _ => s.addr.wrapping_add(u64::from(c.u32()) % len as u64),
                    };
                    let w = if c.u8() & 1 == 0 { 8 } else { 4 };
                    let bytes = v.to_le_bytes();
                    let k = w.min(room);
                    put(&mut img, at, bytes.get(..k).unwrap_or(&[]));
                }
                // A zeroed run, as a truncated or stripped table reads.
                2 => {
                    let k = usize::from(c.u16()).min(room);
                    if let Some(run) = img.get_mut(at..at + k) {
                        run.fill(0);
                    }
                }
                // One header field of the section (sh_addr, sh_offset,
                // sh_size) moved by a small signed amount or set: the table
                // keeps its place and shape, its contents lie.
                _ => {
                    // sh_addr, sh_offset, sh_size are the words at 0x10, 0x18, 0x20.
                    let field = s.header + 0x10 + 8 * usize::from(c.u8() % 3);
                    let Some(slot) = img.get_mut(field..field + 8) else {
                        continue;
                    };
                    let old = u64::from_le_bytes(slot.try_into().unwrap_or([0; 8]));
                    let d = c.u16() as i16;
                    let new = if d == i16::MIN {
                        c.u64()
                    } else {
                        old.wrapping_add_signed(i64::from(d))
                    };
                    slot.copy_from_slice(&new.to_le_bytes());
                    moved = true;
                }
            }
        }
        (img, *family, moved)
    }
}

/// Writes `src` at `at`, as far as the image reaches.
fn put(img: &mut [u8], at: usize, src: &[u8]) {
    let end = at.saturating_add(src.len()).min(img.len());
    if let (Some(dst), Some(src)) = (img.get_mut(at..end), src.get(..end.saturating_sub(at))) {
        dst.copy_from_slice(src);
    }
}

/// A patched real executable: every parser the patches reach must return.
pub fn binary_sections(base: &SectionsBase, data: &[u8]) {
    let (img, family, moved) = base.patched(data);
    let Ok(bin) = GoBinary::parse(img) else {
        return;
    };
    let _ = bin.build_info();
    let _ = bin.go_version();
    // A moved header can change what any other section is read as, but
    // DWARF is left to its own family: it is as slow as all the rest.
    let all = moved && family != Family::Dwarf;
    if all || family == Family::Pcln {
        let _ = bin.map_variant();
        for f in bin.functions().take(64).flatten() {
            let _ = bin.line_for_pc(f.entry);
            if let Some(fi) = bin.func_info(&f) {
                let _ = bin.pcsp(&fi, f.entry.wrapping_add(4));
            }
        }
        let _ = bin.func_for_pc(bin.moduledata().map_or(0, |m| m.text).wrapping_add(0x100));
    }
    if all || family == Family::Types {
        if let Ok(addrs) = bin.runtime_types() {
            for &a in addrs.iter().take(64) {
                let _ = bin.runtime_type(a);
            }
        }
        if let Ok(types) = bin.map_types() {
            for t in types.iter().take(32) {
                let _ = crate::layout::types::map_container(&bin, t);
            }
        }
    }
    if all || family == Family::Symbols {
        let _ = bin.data_symbol("runtime.buildVersion");
    }
    if family == Family::Dwarf {
        let _ = bin.globals();
        let _ = bin.dwarf_type_by_name("map[string]int");
    }
}
