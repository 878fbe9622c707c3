//! CoreFile on synthetic cores whose every byte is known: which ranges come
//! from the core, which are zero, which are missing and served from the
//! executable, and how truncated or corrupted cores fail.

mod memory_support;

use std::sync::Arc;
use std::time::Instant;

use mapscope::memory::{Backing, CoreFile, CoreSource, ImageMemory, Memory, MemoryError, MemoryExt, SharedBytes};
use memory_support::*;

const BASE: u64 = 0x400000;
const HEAP: u64 = 0xc0_0000_0000;
const LIBC: u64 = 0x7f00_0000_0000;
const STACK: u64 = 0x7ffd_0000_0000;
const AT_PAGESZ: u64 = 6;
const AT_ENTRY: u64 = 9;
const AT_EXECFN: u64 = 31;

fn pattern(tag: &[u8], len: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    v[..tag.len()].copy_from_slice(tag);
    v
}

/// A small executable: text from file offset 0 (headers included), rodata, and
/// data with a bss tail. `base` is 0 for a PIE.
fn exe(e_type: u16, base: u64) -> Vec<u8> {
    let mut b = ElfBuilder::new(e_type);
    b.entry = base + 0x1000;
    let mut text = Seg::new(base, 0x2000, PF_R | PF_X, Vec::new());
    text.file_offset = Some(0);
    text.filesz = Some(0x2000);
    b.seg(text)
        .seg(Seg::new(
            base + 0x2000,
            0x1000,
            PF_R,
            pattern(b"RODATA: a string literal", 0x1000),
        ))
        .seg(Seg::new(
            base + 0x3000,
            0x2000,
            PF_R | PF_W,
            pattern(b"DATA as linked", 0x1000),
        ))
        .build()
}

#[derive(Clone, Copy, PartialEq)]
enum Style {
    /// The kernel: read-only file mappings with p_filesz 0, the header page kept.
    Kernel,
    /// gcore: read-only file mappings left out, text kept whole.
    Gcore,
    /// No NT_FILE and no auxv at all.
    Bare,
}

fn core(style: Style, exe_bytes: &[u8], base: u64) -> Vec<u8> {
    let mut b = ElfBuilder::new(ET_CORE);
    let path = "/bin/prog";
    if style != Style::Bare {
        b = b
            .note(NT_PRSTATUS, prstatus(4242, base + 0x1010, STACK + 0x800))
            .note(NT_PRPSINFO, prpsinfo(4242, "prog", "/bin/prog -x"))
            .note(
                NT_AUXV,
                auxv(&[(AT_PAGESZ, 4096), (AT_ENTRY, base + 0x1000), (AT_EXECFN, STACK + 0x100)]),
            )
            .note(
                NT_FILE,
                nt_file(
                    4096,
                    &[
                        (base, base + 0x2000, 0, path),
                        (base + 0x2000, base + 0x3000, 1, path),
                        (base + 0x3000, base + 0x4000, 2, path),
                        (LIBC, LIBC + 0x1000, 0, "/lib/libc.so.6"),
                    ],
                ),
            );
    }
    b = match style {
        Style::Kernel | Style::Bare => {
            let mut text = Seg::new(base, 0x2000, PF_R | PF_X, exe_bytes[..0x1000].to_vec());
            text.filesz = Some(0x1000);
            b.seg(text).seg(Seg::new(base + 0x2000, 0x1000, PF_R, Vec::new()))
        }
        Style::Gcore => b.seg(Seg::new(base, 0x2000, PF_R | PF_X, exe_bytes[..0x2000].to_vec())),
    };
    let mut stack = vec![0x55u8; 0x1000];
    stack[0x100..0x10a].copy_from_slice(b"/bin/prog\0");
    b.seg(Seg::new(
        base + 0x3000,
        0x2000,
        PF_R | PF_W,
        pattern(b"DATA as modified", 0x2000),
    ))
    .seg(Seg::new(HEAP, 0x4000, PF_R | PF_W, pattern(b"HEAP", 0x1000)))
    // Reserved, PROT_NONE (as Go reserves arenas): p_flags 0, nothing stored.
    .seg(Seg::new(HEAP + 0x4000, 0xc000, 0, Vec::new()))
    .seg(Seg::new(LIBC, 0x1000, PF_R, Vec::new()))
    .seg(Seg::new(STACK, 0x1000, PF_R | PF_W, stack))
    .build()
}

fn shared(v: Vec<u8>) -> SharedBytes {
    Arc::new(v)
}

fn open(style: Style) -> (CoreFile, Vec<u8>) {
    let e = exe(ET_EXEC, BASE);
    let c = CoreFile::from_bytes(shared(core(style, &e, BASE))).expect("core opens");
    (c, e)
}

#[test]
fn kernel_core_without_executable() {
    let (c, e) = open(Style::Kernel);
    // Header page: in the core.
    assert_eq!(c.read_vec(BASE, 0x1000).unwrap(), &e[..0x1000]);
    // The rest of text and rodata are file-backed and missing.
    for addr in [BASE + 0x1000, BASE + 0x2000] {
        match c.read_u64(addr) {
            Err(MemoryError::FileUnavailable { path, at, .. }) => {
                assert_eq!(path.to_str(), Some("/bin/prog"));
                assert_eq!(at, addr);
            }
            other => panic!("expected FileUnavailable at {addr:#x}, got {other:?}"),
        }
        assert!(!c.is_mapped(addr, 8));
    }
    // A read that starts in the header page and runs into the missing part says where it failed.
    match c.read_vec(BASE + 0xff8, 16) {
        Err(MemoryError::FileUnavailable { addr, len, at, .. }) => {
            assert_eq!((addr, len, at), (BASE + 0xff8, 16, BASE + 0x1000))
        }
        other => panic!("{other:?}"),
    }
    // Modified data comes from the core, not the file.
    assert_eq!(&c.read_vec(BASE + 0x3000, 16).unwrap(), b"DATA as modified");
    // Anonymous memory past p_filesz: untouched, so zero.
    assert_eq!(&c.read_vec(HEAP, 4).unwrap(), b"HEAP");
    assert_eq!(c.read_vec(HEAP + 0x1000, 0x3000).unwrap(), vec![0; 0x3000]);
    assert!(c.is_mapped(HEAP, 0x4000));
    assert!(!c.is_mapped(HEAP, 0x4001));
    match c.read_u64(HEAP + 0x3ffc) {
        Err(MemoryError::NoAccess { at, .. }) => assert_eq!(at, HEAP + 0x4000),
        other => panic!("PROT_NONE must not read: {other:?}"),
    }
    assert!(!c.region_at(HEAP + 0x5000).unwrap().perms.read);
    // Another file we do not have.
    assert!(matches!(c.read_u8(LIBC + 5), Err(MemoryError::FileUnavailable { .. })));
    assert!(matches!(c.read_u8(0x1234), Err(MemoryError::Unmapped { .. })));

    let n = c.notes();
    assert_eq!(n.process.as_ref().unwrap().fname, "prog");
    assert_eq!(n.process.as_ref().unwrap().args, "/bin/prog -x");
    assert_eq!(n.threads.len(), 1);
    assert_eq!(n.threads[0].tid, 4242);
    assert_eq!(n.threads[0].registers.pc(), Some(BASE + 0x1010));
    assert_eq!(n.threads[0].registers.sp(), Some(STACK + 0x800));
    assert_eq!(n.files.len(), 4);
    assert_eq!(c.executable_path().unwrap().to_str(), Some("/bin/prog"));
    let r = c.region_at(BASE + 0x2100).unwrap();
    assert_eq!(r.start, BASE + 0x2000);
    assert!(matches!(r.backing, Backing::File { offset: 0x1000, .. }));
    assert_eq!(c.region_at(HEAP).unwrap().backing, Backing::Anonymous);
    assert!(c.warnings().is_empty(), "{:?}", c.warnings());
    assert!(!c.is_truncated());
}

#[test]
fn kernel_core_with_executable_serves_read_only_data() {
    let (c, e) = open(Style::Kernel);
    let c = c
        .with_executable(ImageMemory::from_bytes(shared(e.clone())).unwrap())
        .unwrap();
    assert_eq!(c.executable_bias(), Some(0));
    assert_eq!(c.read_vec(BASE + 0x2000, 0x1000).unwrap(), &e[0x1000..0x2000]);
    assert_eq!(&c.read_vec(BASE + 0x2000, 24).unwrap(), b"RODATA: a string literal");
    // Text after the header page, and a read spanning header page and file.
    assert_eq!(c.read_vec(BASE + 0xf00, 0x200).unwrap(), &e[0xf00..0x1100]);
    assert!(matches!(
        c.source_at(BASE + 0x2010).unwrap().source,
        CoreSource::Executable { file_offset: 0x1000 }
    ));
    // Data the program changed still comes from the core.
    assert_eq!(&c.read_vec(BASE + 0x3000, 16).unwrap(), b"DATA as modified");
    assert!(c.is_mapped(BASE, 0x3000));
    // libc is still unavailable.
    assert!(matches!(c.read_u8(LIBC), Err(MemoryError::FileUnavailable { .. })));
}

#[test]
fn gcore_style_core_with_omitted_mapping() {
    let (c, e) = open(Style::Gcore);
    assert!(matches!(
        c.read_u8(BASE + 0x2000),
        Err(MemoryError::FileUnavailable { .. })
    ));
    // The omitted mapping is still listed as a region (from NT_FILE).
    let r = c.region_at(BASE + 0x2000).expect("region from NT_FILE");
    assert_eq!((r.start, r.end), (BASE + 0x2000, BASE + 0x3000));
    let c = c
        .with_executable(ImageMemory::from_bytes(shared(e.clone())).unwrap())
        .unwrap();
    assert_eq!(c.read_vec(BASE + 0x2000, 0x1000).unwrap(), &e[0x1000..0x2000]);
    let r = c.region_at(BASE + 0x2000).unwrap();
    assert!(r.perms.read && !r.perms.write && !r.perms.execute);
    // A read across text (in the core) into rodata (file offset 0x1000 again:
    // the text mapping covers the file from 0, rodata maps its page anew).
    let want = [&e[0x1ff0..0x2000], &e[0x1000..0x1010]].concat();
    assert_eq!(c.read_vec(BASE + 0x1ff0, 0x20).unwrap(), want);
}

#[test]
fn bare_core_uses_the_image_for_read_only_segments_only() {
    let (c, e) = open(Style::Bare);
    // Without NT_FILE a zero-size segment cannot be told from untouched memory.
    assert_eq!(c.read_u64(BASE + 0x2000).unwrap(), 0);
    assert!(c.executable_path().is_none());
    let c = c
        .with_executable(ImageMemory::from_bytes(shared(e.clone())).unwrap())
        .unwrap();
    assert_eq!(&c.read_vec(BASE + 0x2000, 24).unwrap(), b"RODATA: a string literal");
    assert!(matches!(
        c.source_at(BASE + 0x2000).unwrap().source,
        CoreSource::ExecutableImage { vaddr: 0x402000 }
    ));
    assert_eq!(&c.read_vec(BASE + 0x3000, 16).unwrap(), b"DATA as modified");
}

#[test]
fn pie_executable_is_placed_by_the_entry_point() {
    let bias = 0x5555_5555_4000u64;
    let e = exe(ET_DYN, 0);
    let c = CoreFile::from_bytes(shared(core(Style::Gcore, &e, bias))).unwrap();
    let c = c
        .with_executable(ImageMemory::from_bytes(shared(e.clone())).unwrap())
        .unwrap();
    assert_eq!(c.executable_bias(), Some(bias));
    assert_eq!(&c.read_vec(bias + 0x2000, 24).unwrap(), b"RODATA: a string literal");
    let c = CoreFile::from_bytes(shared(core(Style::Bare, &e, bias))).unwrap();
    // No auxv: the bias cannot be known; the image route is off, nothing is guessed.
    let c = c.with_executable(ImageMemory::from_bytes(shared(e)).unwrap()).unwrap();
    assert_eq!(c.executable_bias(), None);
    assert!(!c.warnings().is_empty());
}

#[test]
fn wrong_executable_is_refused() {
    let (c, e) = open(Style::Kernel);
    // Another entry point.
    let mut other = ElfBuilder::new(ET_EXEC);
    other.entry = BASE + 0x2222;
    let other = other
        .seg(Seg::new(BASE, 0x1000, PF_R | PF_X, vec![0x90; 0x1000]))
        .build();
    let err = c
        .with_executable(ImageMemory::from_bytes(shared(other)).unwrap())
        .unwrap_err();
    assert!(matches!(err, MemoryError::ExecutableMismatch { .. }), "{err}");
    // Same entry point, different bytes in the first page.
    let (c, _) = open(Style::Kernel);
    let mut changed = e.clone();
    changed[0x800] ^= 0xff;
    let err = c
        .with_executable(ImageMemory::from_bytes(shared(changed)).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("differ"), "{err}");
}

#[test]
fn image_memory_alone() {
    let e = exe(ET_EXEC, BASE);
    let mut cut = e.clone();
    cut.truncate(0x2800);
    let img = ImageMemory::from_bytes(shared(e.clone())).unwrap();
    assert_eq!(&img.read_vec(BASE + 0x2000, 6).unwrap(), b"RODATA");
    assert_eq!(&img.read_vec(BASE + 0x3000, 14).unwrap(), b"DATA as linked");
    // bss reads as zero in the image.
    assert_eq!(img.read_u64(BASE + 0x4800).unwrap(), 0);
    assert!(matches!(img.read_u8(BASE + 0x5000), Err(MemoryError::Unmapped { .. })));
    assert_eq!(img.regions().len(), 3);
    let img = ImageMemory::from_bytes(shared(cut)).unwrap();
    assert!(matches!(
        img.read_u8(BASE + 0x3900),
        Err(MemoryError::BeyondFileEnd { .. })
    ));
    assert!(img.read_u8(BASE + 0x37ff).is_ok());
    assert!(!img.is_mapped(BASE + 0x3000, 0x1000));
    // A core is not an executable.
    let (c, _) = open(Style::Kernel);
    drop(c);
    let core_bytes = core(Style::Kernel, &e, BASE);
    assert!(ImageMemory::from_bytes(shared(core_bytes.clone())).is_err());
    assert!(CoreFile::from_bytes(shared(e)).is_err());
}

#[test]
fn truncated_core_reads_up_to_the_end_and_fails_beyond() {
    let e = exe(ET_EXEC, BASE);
    let full = core(Style::Kernel, &e, BASE);
    let c = CoreFile::from_bytes(shared(full.clone())).unwrap();
    let data_seg = *c.segments().iter().find(|s| s.vaddr == BASE + 0x3000).unwrap();
    let cut_at = data_seg.file_offset as usize + 0x123;
    let t = CoreFile::from_bytes(shared(full[..cut_at].to_vec())).unwrap();
    assert!(t.is_truncated());
    assert!(!t.warnings().is_empty());
    assert_eq!(&t.read_vec(BASE + 0x3000, 16).unwrap(), b"DATA as modified");
    match t.read_vec(BASE + 0x3100, 0x40) {
        Err(MemoryError::TruncatedCore { at, file_len, .. }) => {
            assert_eq!(at, BASE + 0x3123);
            assert_eq!(file_len, cut_at as u64);
        }
        other => panic!("{other:?}"),
    }
    assert!(!t.is_mapped(BASE + 0x3000, 0x200));
    // Segments that start beyond the end fail too, and never read a neighbour.
    assert!(matches!(t.read_u8(HEAP), Err(MemoryError::TruncatedCore { .. })));
    assert!(matches!(t.read_u8(STACK), Err(MemoryError::TruncatedCore { .. })));
    // Zero tails are still zero.
    assert_eq!(t.read_u8(HEAP + 0x2000).unwrap(), 0);
}

/// Opens a (damaged) core and exercises every query; nothing may panic.
fn poke(bytes: Vec<u8>, e: &[u8]) {
    let Ok(c) = CoreFile::from_bytes(shared(bytes)) else {
        return;
    };
    let _ = c.executable_path();
    let _ = c.main_executable_mapping();
    for r in c.regions().iter().take(64) {
        let _ = c.read_available(r.start, 64);
        let _ = c.read_vec(r.end.saturating_sub(8), 16);
        let _ = c.is_mapped(r.start, r.len());
    }
    for addr in [0, BASE, BASE + 0x2000, HEAP + 0x3ff8, LIBC, STACK + 0x100, u64::MAX - 3] {
        let _ = c.read_vec(addr, 32);
        let _ = c.read_cstr(addr, 64);
    }
    let _ = c.spans();
    if let Ok(c) = c.with_executable(ImageMemory::from_bytes(shared(e.to_vec())).unwrap()) {
        for addr in [BASE, BASE + 0x1ff8, BASE + 0x2000, BASE + 0x3000] {
            let _ = c.read_vec(addr, 64);
        }
    }
}

#[test]
fn truncated_anywhere_never_panics() {
    let e = exe(ET_EXEC, BASE);
    let full = core(Style::Kernel, &e, BASE);
    let header_end = 0x1000.min(full.len());
    let mut cuts: Vec<usize> = (0..header_end).collect();
    cuts.extend((header_end..full.len()).step_by(61));
    for cut in cuts {
        poke(full[..cut].to_vec(), &e);
    }
}

#[test]
fn flipped_header_bytes_never_panic() {
    let e = exe(ET_EXEC, BASE);
    for style in [Style::Kernel, Style::Gcore] {
        let full = core(style, &e, BASE);
        // ELF header, program headers and notes all live in the first page.
        for i in 0..0x1000.min(full.len()) {
            for x in [0xff, 0x80, 0x01] {
                let mut b = full.clone();
                b[i] ^= x;
                poke(b, &e);
            }
        }
    }
}

#[test]
fn large_sparse_core_opens_instantly() {
    let dir = TempDir::new("sparse");
    let path = dir.path().join("core.sparse");
    let big: u64 = 4 << 30;
    let mut b = ElfBuilder::new(ET_CORE).note(NT_PRPSINFO, prpsinfo(1, "big", "big"));
    let mut seg = Seg::new(HEAP, big, PF_R | PF_W, Vec::new());
    seg.filesz = Some(big);
    b = b.seg(seg);
    let (bytes, offsets) = b.build_with_offsets();
    std::fs::write(&path, &bytes).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    // A hole: the file is 4 GiB long but holds almost nothing.
    f.set_len(offsets[0] + big).unwrap();
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = f;
        f.seek(SeekFrom::Start(offsets[0] + big - 8)).unwrap();
        f.write_all(b"THE-END!").unwrap();
    }
    let t = Instant::now();
    let c = CoreFile::open(&path).unwrap();
    let opened = t.elapsed();
    assert_eq!(&c.read_vec(HEAP + big - 8, 8).unwrap(), b"THE-END!");
    assert_eq!(c.read_u64(HEAP + big / 2).unwrap(), 0);
    eprintln!("opened a {} GiB sparse core in {opened:?}", big >> 30);
    assert!(opened.as_millis() < 500, "open took {opened:?}");
}

#[test]
fn unchecked_attach_accepts_what_checked_refuses() {
    let (mut c, e) = open(Style::Kernel);
    let mut changed = e.clone();
    changed[0x800] ^= 0xff;
    let img = || ImageMemory::from_bytes(shared(changed.clone())).unwrap();
    assert!(c.attach_executable(img()).is_err());
    assert!(c.executable().is_none(), "a refused executable is not kept");
    c.attach_executable_unchecked(img()).unwrap();
    // The core's own copy of the first page still wins over the file.
    assert_eq!(c.read_vec(BASE + 0x800, 1).unwrap(), [e[0x800]]);
    assert_eq!(&c.read_vec(BASE + 0x2000, 6).unwrap(), b"RODATA");
}

#[test]
fn deleted_executable_path_is_cleaned() {
    let mut b = ElfBuilder::new(ET_CORE)
        .note(NT_AUXV, auxv(&[(AT_ENTRY, BASE + 0x1000)]))
        .note(
            NT_FILE,
            nt_file(4096, &[(BASE, BASE + 0x2000, 0, "/srv/app (deleted)")]),
        );
    b = b.seg(Seg::new(BASE, 0x1000, PF_R | PF_X, vec![0; 0x1000]));
    let c = CoreFile::from_bytes(shared(b.build())).unwrap();
    assert_eq!(c.executable_path().unwrap().to_str(), Some("/srv/app"));
}

#[test]
fn damaged_executables_never_panic() {
    let e = exe(ET_EXEC, BASE);
    let (c, _) = open(Style::Kernel);
    let c = Arc::new(c);
    for i in 0..0x200.min(e.len()) {
        for x in [0xff, 0x80, 0x01] {
            let mut b = e.clone();
            b[i] ^= x;
            let Ok(img) = ImageMemory::from_bytes(shared(b)) else {
                continue;
            };
            for addr in [BASE, BASE + 0x1ff8, BASE + 0x2000, BASE + 0x4ff8, 0, u64::MAX - 4] {
                let _ = img.read_vec(addr, 16);
                let _ = img.is_mapped(addr, 16);
            }
            let _ = img.regions();
            // Attaching a damaged image to a good core must fail or work, never panic.
            let mut core = CoreFile::from_bytes(shared(core(Style::Kernel, &e, BASE))).unwrap();
            if core.attach_executable(img).is_ok() {
                let _ = core.read_vec(BASE + 0x2000, 64);
            }
        }
    }
    // A core is shareable across threads.
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || c.read_vec(HEAP, 4).unwrap())
        })
        .collect();
    for h in handles {
        assert_eq!(&h.join().unwrap(), b"HEAP");
    }
}
