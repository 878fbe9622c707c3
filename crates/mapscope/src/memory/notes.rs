//! The notes of a Linux ELF core: threads and their registers (NT_PRSTATUS),
//! the program (NT_PRPSINFO), the auxiliary vector (NT_AUXV) and the file
//! mappings (NT_FILE). Layouts are the kernel's `elf_prstatus` / `elf_prpsinfo`
//! for 64-bit targets; every field is read with a bounds check and a note too
//! short for its layout is skipped with a warning rather than failing the core.

use std::path::PathBuf;
use std::sync::Arc;

use super::elfhdr::RawNote;
use super::ByteOrder;

const NT_PRSTATUS: u32 = 1;
const NT_PRPSINFO: u32 = 3;
const NT_AUXV: u32 = 6;
const NT_FILE: u32 = 0x4649_4c45;

const EM_X86_64: u16 = 62;
const EM_AARCH64: u16 = 183;

/// The target's instruction set, as far as register decoding cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Arch {
    X86_64,
    Aarch64,
    /// Another machine; registers are kept raw.
    Other(u16),
}

impl Arch {
    pub(crate) fn from_machine(m: u16) -> Self {
        match m {
            EM_X86_64 => Arch::X86_64,
            EM_AARCH64 => Arch::Aarch64,
            other => Arch::Other(other),
        }
    }
}

/// A thread's general-purpose registers, in the kernel's `user_regs_struct` order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Registers {
    pub arch: Arch,
    /// The raw register words (x86-64: r15, r14, …, rip at 16, rsp at 19, fs_base at 21;
    /// aarch64: x0–x30, sp at 31, pc at 32, pstate at 33).
    pub words: Vec<u64>,
}

impl Registers {
    fn word(&self, i: usize) -> Option<u64> {
        self.words.get(i).copied()
    }

    /// Program counter.
    pub fn pc(&self) -> Option<u64> {
        match self.arch {
            Arch::X86_64 => self.word(16),
            Arch::Aarch64 => self.word(32),
            Arch::Other(_) => None,
        }
    }

    /// Stack pointer.
    pub fn sp(&self) -> Option<u64> {
        match self.arch {
            Arch::X86_64 => self.word(19),
            Arch::Aarch64 => self.word(31),
            Arch::Other(_) => None,
        }
    }

    /// The first integer result register of Go's ABIInternal (RAX, X0).
    pub fn result(&self) -> Option<u64> {
        match self.arch {
            Arch::X86_64 => self.word(10),
            Arch::Aarch64 => self.word(0),
            Arch::Other(_) => None,
        }
    }

    /// The register Go keeps the current goroutine in when running Go code
    /// (amd64: r14 from Go 1.17; arm64: x28).
    pub fn go_g(&self) -> Option<u64> {
        match self.arch {
            Arch::X86_64 => self.word(1),
            Arch::Aarch64 => self.word(28),
            Arch::Other(_) => None,
        }
    }

    /// Thread-local storage base (x86-64 fs_base).
    pub fn tls_base(&self) -> Option<u64> {
        match self.arch {
            Arch::X86_64 => self.word(21),
            _ => None,
        }
    }
}

/// One thread of the dumped process (NT_PRSTATUS).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadStatus {
    /// The thread id (`pr_pid`).
    pub tid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub sid: i32,
    /// The signal that was being delivered (`pr_cursig`).
    pub signal: u16,
    pub registers: Registers,
}

/// The program (NT_PRPSINFO).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// State letter (`R`, `S`, …).
    pub state: u8,
    pub pid: i32,
    pub ppid: i32,
    pub uid: u32,
    pub gid: u32,
    /// The command name, at most 15 bytes (`pr_fname`).
    pub fname: String,
    /// The start of the command line, at most 80 bytes, arguments separated by spaces.
    pub args: String,
}

/// One auxiliary-vector entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuxvEntry {
    pub key: u64,
    pub value: u64,
}

/// A file mapping from NT_FILE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileMapping {
    pub start: u64,
    /// Exclusive.
    pub end: u64,
    /// File offset of `start`, in bytes.
    pub file_offset: u64,
    pub path: Arc<PathBuf>,
}

/// Everything mapscope keeps from a core's notes.
#[derive(Clone, Debug, Default)]
pub struct CoreNotes {
    pub threads: Vec<ThreadStatus>,
    pub process: Option<ProcessInfo>,
    pub auxv: Vec<AuxvEntry>,
    pub files: Vec<FileMapping>,
    /// NT_FILE's page size (offsets there are in pages of this size).
    pub page_size: Option<u64>,
    /// Whether the core had an NT_FILE note at all (a core without one cannot
    /// tell file-backed ranges from anonymous ones).
    pub has_file_note: bool,
    pub warnings: Vec<String>,
}

pub const AT_PHDR: u64 = 3;
pub const AT_PAGESZ: u64 = 6;
pub const AT_ENTRY: u64 = 9;
pub const AT_EXECFN: u64 = 31;

impl CoreNotes {
    pub fn auxv_value(&self, key: u64) -> Option<u64> {
        self.auxv.iter().find(|e| e.key == key).map(|e| e.value)
    }

    /// The file mapping holding `addr`.
    pub fn file_at(&self, addr: u64) -> Option<&FileMapping> {
        self.files.iter().find(|f| f.start <= addr && addr < f.end)
    }
}

/// Reads fixed-width integers out of a note's payload.
struct Desc<'a> {
    d: &'a [u8],
    order: ByteOrder,
    word: usize,
}

impl Desc<'_> {
    fn uint(&self, off: usize, size: usize) -> Option<u64> {
        let b = self.d.get(off..off.checked_add(size)?)?;
        let mut v = [0u8; 8];
        match self.order {
            ByteOrder::Little => {
                v.get_mut(..size)?.copy_from_slice(b);
                Some(u64::from_le_bytes(v))
            }
            ByteOrder::Big => {
                v.get_mut(8usize.checked_sub(size)?..)?.copy_from_slice(b);
                Some(u64::from_be_bytes(v))
            }
        }
    }
    fn u16(&self, off: usize) -> Option<u16> {
        self.uint(off, 2).map(|v| v as u16)
    }
    fn u32(&self, off: usize) -> Option<u32> {
        self.uint(off, 4).map(|v| v as u32)
    }
    fn i32(&self, off: usize) -> Option<i32> {
        self.u32(off).map(|v| v as i32)
    }
    fn word(&self, off: usize) -> Option<u64> {
        self.uint(off, self.word)
    }
    fn text(&self, off: usize, len: usize) -> String {
        let b = self
            .d
            .get(off..off.saturating_add(len).min(self.d.len()))
            .unwrap_or(&[]);
        let b = b.split(|&c| c == 0).next().unwrap_or(&[]);
        String::from_utf8_lossy(b).trim_end().to_string()
    }
}

/// Caps keep a corrupt count from making us build huge vectors.
const MAX_FILE_MAPPINGS: usize = 1 << 20;
const MAX_AUXV: usize = 1024;

pub(crate) fn parse_notes(raw: &[RawNote], order: ByteOrder, is_64: bool, machine: u16) -> CoreNotes {
    let mut notes = CoreNotes::default();
    let word = if is_64 { 8 } else { 4 };
    let arch = Arch::from_machine(machine);
    for n in raw {
        let is_core = n.name == b"CORE";
        if !is_core {
            continue;
        }
        let d = Desc {
            d: &n.desc,
            order,
            word,
        };
        match n.n_type {
            NT_PRSTATUS => match parse_prstatus(&d, is_64, arch) {
                Some(t) => notes.threads.push(t),
                None => notes.warnings.push("NT_PRSTATUS too short; skipped".into()),
            },
            NT_PRPSINFO if notes.process.is_none() => match parse_prpsinfo(&d, is_64) {
                Some(p) => notes.process = Some(p),
                None => notes.warnings.push("NT_PRPSINFO too short; skipped".into()),
            },
            NT_AUXV if notes.auxv.is_empty() => notes.auxv = parse_auxv(&d),
            NT_FILE => {
                notes.has_file_note = true;
                match parse_nt_file(&d) {
                    Some((page, files)) => {
                        notes.page_size.get_or_insert(page);
                        for f in files {
                            // gdb writes NT_FILE twice; keep one copy of each mapping.
                            if !notes.files.contains(&f) {
                                notes.files.push(f);
                            }
                        }
                    }
                    None => notes.warnings.push("NT_FILE malformed; skipped".into()),
                }
            }
            _ => {}
        }
    }
    notes.files.sort_by_key(|f| (f.start, f.end));
    notes
}

fn parse_prstatus(d: &Desc<'_>, is_64: bool, arch: Arch) -> Option<ThreadStatus> {
    // elf_prstatus: siginfo (3 × i32), cursig u16 at 12, sigpend and sighold
    // (words), pid/ppid/pgrp/sid, 4 timevals, then pr_reg.
    let (ids, reg) = if is_64 { (32, 112) } else { (24, 72) };
    let nregs = match arch {
        Arch::X86_64 => 27,
        Arch::Aarch64 => 34,
        Arch::Other(_) => 0,
    };
    let mut words = Vec::with_capacity(nregs);
    for i in 0..nregs {
        words.push(d.word(reg + i * d.word)?);
    }
    Some(ThreadStatus {
        signal: d.u16(12)?,
        tid: d.i32(ids)?,
        ppid: d.i32(ids + 4)?,
        pgrp: d.i32(ids + 8)?,
        sid: d.i32(ids + 12)?,
        registers: Registers { arch, words },
    })
}

fn parse_prpsinfo(d: &Desc<'_>, is_64: bool) -> Option<ProcessInfo> {
    // elf_prpsinfo (64-bit): state, sname, zomb, nice (i8 each), pad, flag (u64),
    // uid u32 at 16, gid at 20, pid at 24, ppid at 28, pgrp, sid, fname[16] at 40,
    // psargs[80] at 56. The 32-bit layout has a 4-byte flag and 16-bit ids.
    if is_64 {
        if d.d.len() < 136 {
            return None;
        }
        Some(ProcessInfo {
            state: d.d.get(1).copied()?,
            uid: d.u32(16)?,
            gid: d.u32(20)?,
            pid: d.i32(24)?,
            ppid: d.i32(28)?,
            fname: d.text(40, 16),
            args: d.text(56, 80),
        })
    } else {
        if d.d.len() < 124 {
            return None;
        }
        Some(ProcessInfo {
            state: d.d.get(1).copied()?,
            uid: u32::from(d.u16(8)?),
            gid: u32::from(d.u16(10)?),
            pid: d.i32(12)?,
            ppid: d.i32(16)?,
            fname: d.text(28, 16),
            args: d.text(44, 80),
        })
    }
}

fn parse_auxv(d: &Desc<'_>) -> Vec<AuxvEntry> {
    let mut out = Vec::new();
    let mut off = 0usize;
    while out.len() < MAX_AUXV {
        let (Some(key), Some(value)) = (d.word(off), d.word(off + d.word)) else {
            break;
        };
        if key == 0 {
            break;
        }
        out.push(AuxvEntry { key, value });
        off += 2 * d.word;
    }
    out
}

fn parse_nt_file(d: &Desc<'_>) -> Option<(u64, Vec<FileMapping>)> {
    // count, page_size, count × (start, end, offset in pages), then count NUL-terminated paths.
    let w = d.word;
    let count = d.word(0)?;
    let page = d.word(w)?;
    let max_by_size = d.d.len().saturating_sub(2 * w) / (3 * w);
    let count = usize::try_from(count).ok()?.min(max_by_size).min(MAX_FILE_MAPPINGS);
    let names_at = 2 * w + count * 3 * w;
    let mut names = d.d.get(names_at..)?.split(|&c| c == 0);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let base = 2 * w + i * 3 * w;
        let start = d.word(base)?;
        let end = d.word(base + w)?;
        let pgoff = d.word(base + 2 * w)?;
        let name = names.next().unwrap_or(&[]);
        if end <= start {
            continue;
        }
        out.push(FileMapping {
            start,
            end,
            file_offset: pgoff.saturating_mul(page),
            path: Arc::new(path_from_bytes(name)),
        });
    }
    Some((page, out))
}

#[cfg(unix)]
pub(crate) fn path_from_bytes(b: &[u8]) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    PathBuf::from(std::ffi::OsStr::from_bytes(b))
}

#[cfg(not(unix))]
pub(crate) fn path_from_bytes(b: &[u8]) -> PathBuf {
    PathBuf::from(String::from_utf8_lossy(b).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(n_type: u32, desc: Vec<u8>) -> RawNote {
        RawNote {
            n_type,
            name: b"CORE".to_vec(),
            desc,
        }
    }

    #[test]
    fn nt_file_with_lying_count_is_capped() {
        let mut d = Vec::new();
        d.extend_from_slice(&u64::MAX.to_le_bytes());
        d.extend_from_slice(&4096u64.to_le_bytes());
        for v in [0x400000u64, 0x401000, 0] {
            d.extend_from_slice(&v.to_le_bytes());
        }
        d.extend_from_slice(b"/bin/x\0");
        let n = parse_notes(&[note(NT_FILE, d)], ByteOrder::Little, true, EM_X86_64);
        assert_eq!(n.files.len(), 1);
        assert_eq!(n.files[0].path.as_os_str(), "/bin/x");
    }

    #[test]
    fn short_notes_do_not_panic() {
        for t in [NT_PRSTATUS, NT_PRPSINFO, NT_AUXV, NT_FILE] {
            for len in 0..400 {
                let d = vec![0xffu8; len];
                let _ = parse_notes(&[note(t, d)], ByteOrder::Little, true, EM_X86_64);
                let _ = parse_notes(&[note(t, vec![1; len])], ByteOrder::Big, false, 3);
            }
        }
    }
}
