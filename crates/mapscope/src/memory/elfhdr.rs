//! The few facts the memory layer needs from an ELF file's headers (class, byte
//! order, type, machine, entry, PT_LOAD and PT_NOTE segments), read with the
//! `object` crate's bounds-checked ELF types for both classes and byte orders.

use object::elf::{FileHeader32, FileHeader64, PT_LOAD, PT_NOTE};
use object::read::elf::{FileHeader, ProgramHeader};
use object::Endianness;

use super::error::MemoryError;
use super::ByteOrder;

/// A program header's fields, widened to u64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LoadSegment {
    pub vaddr: u64,
    pub memsz: u64,
    pub offset: u64,
    pub filesz: u64,
    pub flags: u32,
}

/// One note, copied out of the file (notes are small and few).
#[derive(Clone, Debug)]
pub(crate) struct RawNote {
    pub n_type: u32,
    pub name: Vec<u8>,
    pub desc: Vec<u8>,
}

#[derive(Clone, Debug)]
pub(crate) struct ElfHeaders {
    pub is_64: bool,
    pub byte_order: ByteOrder,
    pub e_type: u16,
    pub e_machine: u16,
    pub entry: u64,
    pub loads: Vec<LoadSegment>,
    /// PT_NOTE program headers (where build IDs are loaded).
    pub note_segments: Vec<LoadSegment>,
    pub notes: Vec<RawNote>,
    /// Problems that did not stop parsing (a note segment cut off by truncation, …).
    pub warnings: Vec<String>,
}

/// Every note segment together may not hold more notes than this; real cores
/// have a few per thread.
const MAX_NOTES: usize = 1 << 20;
/// Bytes of note payload copied in total, so a hostile header cannot make us copy gigabytes.
const MAX_NOTE_BYTES: usize = 256 << 20;

pub(crate) fn parse(data: &[u8], what: &'static str) -> Result<ElfHeaders, MemoryError> {
    match data.get(..6) {
        Some([0x7f, b'E', b'L', b'F', 1, _]) => parse_generic::<FileHeader32<Endianness>>(data, what),
        Some([0x7f, b'E', b'L', b'F', 2, _]) => parse_generic::<FileHeader64<Endianness>>(data, what),
        Some([0x7f, b'E', b'L', b'F', ..]) => Err(MemoryError::malformed(what, "unknown ELF class")),
        _ => Err(MemoryError::malformed(what, "not an ELF file (bad magic)")),
    }
}

fn parse_generic<Elf: FileHeader<Endian = Endianness>>(
    data: &[u8],
    what: &'static str,
) -> Result<ElfHeaders, MemoryError> {
    let bad = |e: object::Error| MemoryError::malformed(what, e.to_string());
    let hdr = Elf::parse(data).map_err(bad)?;
    let endian = hdr.endian().map_err(bad)?;
    let phdrs = hdr.program_headers(endian, data).map_err(bad)?;
    let mut out = ElfHeaders {
        is_64: hdr.is_type_64(),
        byte_order: match endian {
            Endianness::Little => ByteOrder::Little,
            Endianness::Big => ByteOrder::Big,
        },
        e_type: hdr.e_type(endian),
        e_machine: hdr.e_machine(endian),
        entry: hdr.e_entry(endian).into(),
        loads: Vec::new(),
        note_segments: Vec::new(),
        notes: Vec::new(),
        warnings: Vec::new(),
    };
    let mut note_bytes = 0usize;
    for ph in phdrs {
        match ph.p_type(endian) {
            PT_LOAD => out.loads.push(LoadSegment {
                vaddr: ph.p_vaddr(endian).into(),
                memsz: ph.p_memsz(endian).into(),
                offset: ph.p_offset(endian).into(),
                filesz: ph.p_filesz(endian).into(),
                flags: ph.p_flags(endian),
            }),
            PT_NOTE => {
                out.note_segments.push(LoadSegment {
                    vaddr: ph.p_vaddr(endian).into(),
                    memsz: ph.p_memsz(endian).into(),
                    offset: ph.p_offset(endian).into(),
                    filesz: ph.p_filesz(endian).into(),
                    flags: ph.p_flags(endian),
                });
                let notes = match ph.notes(endian, data) {
                    Ok(Some(n)) => n,
                    Ok(None) => continue,
                    Err(e) => {
                        out.warnings.push(format!("note segment skipped: {e}"));
                        continue;
                    }
                };
                for note in notes {
                    let note = match note {
                        Ok(n) => n,
                        Err(e) => {
                            out.warnings.push(format!("note segment cut short: {e}"));
                            break;
                        }
                    };
                    note_bytes = note_bytes.saturating_add(note.desc().len());
                    if out.notes.len() >= MAX_NOTES || note_bytes > MAX_NOTE_BYTES {
                        out.warnings.push("too many notes; the rest were ignored".into());
                        break;
                    }
                    out.notes.push(RawNote {
                        n_type: note.n_type(endian),
                        name: note.name().to_vec(),
                        desc: note.desc().to_vec(),
                    });
                }
            }
            _ => {}
        }
    }
    Ok(out)
}
