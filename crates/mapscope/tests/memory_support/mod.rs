//! Shared helpers for the memory tests: a tiny ELF writer for synthetic cores
//! and executables, a temp directory that cleans up, a child process that is
//! always killed, and the Go toolchain lookup.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};

pub const PT_LOAD: u32 = 1;
pub const PT_NOTE: u32 = 4;
pub const PF_X: u32 = 1;
pub const PF_W: u32 = 2;
pub const PF_R: u32 = 4;
pub const NT_PRSTATUS: u32 = 1;
pub const NT_PRPSINFO: u32 = 3;
pub const NT_AUXV: u32 = 6;
pub const NT_FILE: u32 = 0x4649_4c45;
pub const ET_EXEC: u16 = 2;
pub const ET_DYN: u16 = 3;
pub const ET_CORE: u16 = 4;
pub const EM_X86_64: u16 = 62;

pub struct Seg {
    pub vaddr: u64,
    pub memsz: u64,
    pub flags: u32,
    pub data: Vec<u8>,
    /// Claimed p_filesz when it should differ from `data.len()`.
    pub filesz: Option<u64>,
    /// A fixed p_offset; the segment's `data` is then not written (it describes
    /// bytes already in the file, such as a text segment starting at offset 0).
    pub file_offset: Option<u64>,
}

impl Seg {
    pub fn new(vaddr: u64, memsz: u64, flags: u32, data: Vec<u8>) -> Self {
        Seg {
            vaddr,
            memsz,
            flags,
            data,
            filesz: None,
            file_offset: None,
        }
    }
}

pub struct Note {
    pub n_type: u32,
    pub name: &'static [u8],
    pub desc: Vec<u8>,
}

/// Writes a 64-bit little-endian ELF file: header, program headers, notes,
/// then each segment's data at a 4096-aligned offset.
pub struct ElfBuilder {
    pub e_type: u16,
    pub machine: u16,
    pub entry: u64,
    pub segs: Vec<Seg>,
    pub notes: Vec<Note>,
}

fn align(v: usize, a: usize) -> usize {
    v.div_ceil(a) * a
}

impl ElfBuilder {
    pub fn new(e_type: u16) -> Self {
        ElfBuilder {
            e_type,
            machine: EM_X86_64,
            entry: 0,
            segs: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub fn note(mut self, n_type: u32, desc: Vec<u8>) -> Self {
        self.notes.push(Note {
            n_type,
            name: b"CORE",
            desc,
        });
        self
    }

    pub fn seg(mut self, s: Seg) -> Self {
        self.segs.push(s);
        self
    }

    /// Returns the file and each segment's file offset.
    pub fn build_with_offsets(&self) -> (Vec<u8>, Vec<u64>) {
        let phnum = self.segs.len() + usize::from(!self.notes.is_empty());
        let mut notes = Vec::new();
        for n in &self.notes {
            notes.extend_from_slice(&((n.name.len() + 1) as u32).to_le_bytes());
            notes.extend_from_slice(&(n.desc.len() as u32).to_le_bytes());
            notes.extend_from_slice(&n.n_type.to_le_bytes());
            notes.extend_from_slice(n.name);
            notes.push(0);
            notes.resize(align(notes.len(), 4), 0);
            notes.extend_from_slice(&n.desc);
            notes.resize(align(notes.len(), 4), 0);
        }
        let notes_off = 64 + 56 * phnum;
        let mut off = align(notes_off + notes.len(), 4096);
        let mut offsets = Vec::new();
        for s in &self.segs {
            if let Some(o) = s.file_offset {
                offsets.push(o);
                continue;
            }
            offsets.push(off as u64);
            off = align(off + s.data.len(), 4096);
        }
        let mut out = vec![0u8; 64];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2;
        out[5] = 1;
        out[6] = 1;
        out[16..18].copy_from_slice(&self.e_type.to_le_bytes());
        out[18..20].copy_from_slice(&self.machine.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&self.entry.to_le_bytes());
        out[32..40].copy_from_slice(&64u64.to_le_bytes());
        out[52..54].copy_from_slice(&64u16.to_le_bytes());
        out[54..56].copy_from_slice(&56u16.to_le_bytes());
        out[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
        out[58..60].copy_from_slice(&64u16.to_le_bytes());
        let phdr = |t: u32, flags: u32, off: u64, vaddr: u64, filesz: u64, memsz: u64, align: u64| {
            let mut p = Vec::with_capacity(56);
            p.extend_from_slice(&t.to_le_bytes());
            p.extend_from_slice(&flags.to_le_bytes());
            for v in [off, vaddr, 0, filesz, memsz, align] {
                p.extend_from_slice(&v.to_le_bytes());
            }
            p
        };
        if !self.notes.is_empty() {
            out.extend(phdr(PT_NOTE, 0, notes_off as u64, 0, notes.len() as u64, 0, 4));
        }
        for (s, &o) in self.segs.iter().zip(&offsets) {
            let filesz = s.filesz.unwrap_or(s.data.len() as u64);
            out.extend(phdr(PT_LOAD, s.flags, o, s.vaddr, filesz, s.memsz, 4096));
        }
        out.extend_from_slice(&notes);
        for (s, &o) in self.segs.iter().zip(&offsets) {
            if s.file_offset.is_some() {
                continue;
            }
            out.resize(o as usize, 0);
            out.extend_from_slice(&s.data);
        }
        // A fixed-offset segment may claim bytes past everything written.
        let want = self
            .segs
            .iter()
            .zip(&offsets)
            .filter(|(s, _)| s.file_offset.is_some())
            .map(|(s, &o)| (o + s.filesz.unwrap_or(0)) as usize)
            .max()
            .unwrap_or(0);
        if out.len() < want {
            out.resize(want, 0);
        }
        (out, offsets)
    }

    pub fn build(&self) -> Vec<u8> {
        self.build_with_offsets().0
    }
}

pub fn nt_file(page: u64, maps: &[(u64, u64, u64, &str)]) -> Vec<u8> {
    let mut d = Vec::new();
    d.extend_from_slice(&(maps.len() as u64).to_le_bytes());
    d.extend_from_slice(&page.to_le_bytes());
    for &(s, e, pgoff, _) in maps {
        for v in [s, e, pgoff] {
            d.extend_from_slice(&v.to_le_bytes());
        }
    }
    for &(_, _, _, p) in maps {
        d.extend_from_slice(p.as_bytes());
        d.push(0);
    }
    d
}

pub fn auxv(pairs: &[(u64, u64)]) -> Vec<u8> {
    let mut d = Vec::new();
    for &(k, v) in pairs.iter().chain([(0u64, 0u64)].iter()) {
        d.extend_from_slice(&k.to_le_bytes());
        d.extend_from_slice(&v.to_le_bytes());
    }
    d
}

pub fn prpsinfo(pid: i32, fname: &str, args: &str) -> Vec<u8> {
    let mut d = vec![0u8; 136];
    d[1] = b'R';
    d[24..28].copy_from_slice(&pid.to_le_bytes());
    d[40..40 + fname.len().min(16)].copy_from_slice(&fname.as_bytes()[..fname.len().min(16)]);
    d[56..56 + args.len().min(80)].copy_from_slice(&args.as_bytes()[..args.len().min(80)]);
    d
}

pub fn prstatus(tid: i32, rip: u64, rsp: u64) -> Vec<u8> {
    let mut d = vec![0u8; 336];
    d[12..14].copy_from_slice(&6u16.to_le_bytes());
    d[32..36].copy_from_slice(&tid.to_le_bytes());
    d[112 + 16 * 8..112 + 17 * 8].copy_from_slice(&rip.to_le_bytes());
    d[112 + 19 * 8..112 + 20 * 8].copy_from_slice(&rsp.to_le_bytes());
    d
}

/// A directory removed (with everything in it) when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
        let p = base.join(format!("memory-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A child process that is killed and reaped whatever happens to the test.
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The Go toolchains installed on this machine, newest first.
pub fn go_toolchains() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let cache = home.join(".cache/mapscope/go");
    if let Ok(rd) = std::fs::read_dir(&cache) {
        for e in rd.flatten() {
            let go = e.path().join("bin/go");
            if go.is_file() {
                out.push((e.file_name().to_string_lossy().into_owned(), go));
            }
        }
    }
    let deb = PathBuf::from("/usr/lib/go-1.19/bin/go");
    if deb.is_file() {
        out.push(("1.19".into(), deb));
    }
    out.sort_by_key(|(v, _)| std::cmp::Reverse(version_key(v)));
    out
}

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

pub fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
    })
}

/// Builds `src` (a Go main package file) with `go`, into `dir/name`.
pub fn go_build(go: &Path, dir: &Path, src: &str, name: &str, extra: &[&str]) -> Result<PathBuf, String> {
    let src_path = dir.join(format!("{name}.go"));
    std::fs::write(&src_path, src).map_err(|e| e.to_string())?;
    let out = dir.join(name);
    let res = Command::new(go)
        .arg("build")
        .args(extra)
        .arg("-o")
        .arg(&out)
        .arg(&src_path)
        .current_dir(dir)
        .env("GOTOOLCHAIN", "local")
        .env("CGO_ENABLED", "0")
        .output()
        .map_err(|e| e.to_string())?;
    if !res.status.success() {
        return Err(String::from_utf8_lossy(&res.stderr).into_owned());
    }
    Ok(out)
}

/// The state letter of a process (from /proc/PID/stat).
pub fn proc_state(pid: i32) -> Option<char> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    s[s.rfind(')')? + 1..].split_whitespace().next()?.chars().next()
}

/// Waits up to `secs` for `f` to hold.
pub fn wait_for(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while std::time::Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    f()
}

/// A Go program that prints where some of its own data lives and what it
/// holds, as one JSON line, then sleeps until killed.
pub const GO_PROG: &str = r#"package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"reflect"
	"time"
	"unsafe"
)

var lit = "mapscope-literal-0123456789-abcdef"

var dataVar = [4]uint64{0x1122334455667788, 0xdeadbeefcafebabe, 3, 4}

var fn func(int) int = double

var gmap = map[string]int{"a": 1, "b": 2, "c": 3}

type obj struct {
	a, b uint64
	s    [16]byte
}

var keep *obj

func double(x int) int { return 2 * x }

func bytesAt(p uintptr, n int) string {
	return hex.EncodeToString(unsafe.Slice((*byte)(unsafe.Pointer(p)), n))
}

func main() {
	keep = &obj{a: 0x0102030405060708, b: uint64(os.Getpid())}
	copy(keep.s[:], "heap-object-here")
	litPtr := (*reflect.StringHeader)(unsafe.Pointer(&lit)).Data
	fv := *(*uintptr)(unsafe.Pointer(&fn))
	code := *(*uintptr)(unsafe.Pointer(fv))
	mp := *(*uintptr)(unsafe.Pointer(&gmap))
	hp := uintptr(unsafe.Pointer(keep))
	dp := uintptr(unsafe.Pointer(&dataVar))
	fmt.Printf("{\"pid\":%d,\"lit_addr\":%d,\"lit_hex\":\"%s\",", os.Getpid(), litPtr, bytesAt(litPtr, len(lit)))
	fmt.Printf("\"heap_addr\":%d,\"heap_hex\":\"%s\",", hp, bytesAt(hp, 32))
	fmt.Printf("\"data_addr\":%d,\"data_hex\":\"%s\",", dp, bytesAt(dp, 32))
	fmt.Printf("\"funcval_addr\":%d,\"funcval_hex\":\"%s\",\"code_addr\":%d,\"code_hex\":\"%s\",", fv, bytesAt(fv, 8), code, bytesAt(code, 16))
	fmt.Printf("\"map_addr\":%d,\"map_len\":%d}\n", mp, len(gmap))
	for {
		time.Sleep(time.Hour)
	}
}
"#;

/// What the Go program printed: (name, address, bytes) for each item.
pub struct Facts {
    pub pid: i32,
    pub items: Vec<(&'static str, u64, Vec<u8>)>,
    pub map_addr: u64,
    pub map_len: u64,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
        .collect()
}

pub fn parse_facts(line: &str) -> Facts {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("missing {k} in {line}"));
    let h = |k: &str| unhex(v[k].as_str().unwrap());
    Facts {
        pid: n("pid") as i32,
        items: vec![
            ("string literal", n("lit_addr"), h("lit_hex")),
            ("heap object", n("heap_addr"), h("heap_hex")),
            ("global in .data", n("data_addr"), h("data_hex")),
            ("static funcval", n("funcval_addr"), h("funcval_hex")),
            ("code", n("code_addr"), h("code_hex")),
        ],
        map_addr: n("map_addr"),
        map_len: n("map_len"),
    }
}

/// Starts `exe` in `dir` (with core dumps allowed when `cores`), waits for its
/// JSON line and returns it with the child.
pub fn start_go_prog(exe: &Path, dir: &Path, cores: bool) -> (ChildGuard, Facts) {
    use std::io::BufRead;
    let mut cmd = if cores {
        let mut c = Command::new("/bin/sh");
        c.arg("-c").arg("ulimit -c unlimited; exec \"$0\"").arg(exe);
        c
    } else {
        Command::new(exe)
    };
    let child = cmd
        .current_dir(dir)
        .env("GOTRACEBACK", "crash")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the Go program");
    let mut guard = ChildGuard(child);
    let out = guard.0.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(out).read_line(&mut line).unwrap();
    let facts = parse_facts(line.trim());
    assert_eq!(facts.pid, guard.pid(), "exec kept the pid");
    (guard, facts)
}

/// Picks a few toolchains (newest, one in the middle, oldest) to keep the suite quick.
pub fn some_go_toolchains() -> Vec<(String, PathBuf)> {
    let all = go_toolchains();
    let mut picked: Vec<(String, PathBuf)> = Vec::new();
    for i in [0, all.len() / 2, all.len().saturating_sub(1)] {
        if let Some(t) = all.get(i) {
            if !picked.iter().any(|p| p.0 == t.0) {
                picked.push(t.clone());
            }
        }
    }
    picked
}
