//! aarch64 cores both ways they come: from qemu-user (the corpus's arm64
//! variants: no NT_FILE, the text segment stored with zero size) and in the
//! Linux kernel's form (NT_FILE naming the executable, the header page kept;
//! built synthetically here, as no arm64 kernel is at hand). Both must serve
//! the code from the executable and give each thread's x0–x30, sp, pc, pstate.

mod memory_support;

use std::sync::Arc;

use mapscope::memory::{Arch, CoreFile, CoreSource, ImageMemory, Memory, MemoryError, MemoryExt};
use memory_support::*;

const EM_AARCH64: u16 = 183;

#[test]
fn qemu_user_cores_of_the_corpus() {
    let arm64: Vec<_> = mapscope_fixtures::all()
        .unwrap()
        .into_iter()
        .filter(|f| f.goarch() == "arm64")
        .collect();
    assert!(arm64.len() >= 3, "arm64 variants: {}", arm64.len());
    for fx in arm64 {
        let exe = fx.binary_path().unwrap();
        let image = ImageMemory::open(&exe).unwrap();
        let path = fx.core_path().unwrap();
        let truth = fx.truth().unwrap();
        let mut core = CoreFile::open(&path).unwrap();
        let name = fx.name();
        assert_eq!(core.machine(), EM_AARCH64, "{name}");
        let notes = core.notes();
        assert!(!notes.has_file_note, "{name}: qemu-user writes no NT_FILE");
        assert_eq!(notes.process.as_ref().map(|p| p.pid), Some(truth.pid as i32), "{name}");
        assert!(!notes.threads.is_empty(), "{name}");
        for t in &notes.threads {
            assert_eq!(t.registers.arch, Arch::Aarch64, "{name}");
            assert_eq!(t.registers.words.len(), 34, "{name}: x0-x30, sp, pc, pstate");
            let sp = t.registers.sp().unwrap();
            assert!(core.is_mapped(sp, 8), "{name}: thread {} sp {sp:#x}", t.tid);
        }
        // The text segment is stored with no bytes: before the executable
        // is attached nothing can say what it held.
        let entry = image.entry();
        let before = core.source_at(entry).map(|s| s.source);
        assert!(
            !matches!(before, Some(CoreSource::Core { .. })),
            "{name}: text is not in a qemu core ({before:?})"
        );
        core.attach_executable(image).unwrap();
        assert!(
            matches!(
                core.source_at(entry).map(|s| s.source),
                Some(CoreSource::ExecutableImage { .. })
            ),
            "{name}"
        );
        let own = ImageMemory::open(&exe).unwrap().read_vec(entry, 64).unwrap();
        assert_eq!(core.read_vec(entry, 64).unwrap(), own, "{name}: code at the entry");
        // Every thread's pc is in code the executable maps.
        for t in &core.notes().threads {
            let pc = t.registers.pc().unwrap();
            assert!(core.is_mapped(pc, 4), "{name}: thread {} pc {pc:#x}", t.tid);
        }
        // The amd64 build of another program is refused: wrong machine.
        let amd64 = mapscope_fixtures::get("go1.26").unwrap().binary_path().unwrap();
        let mut again = CoreFile::open(&path).unwrap();
        assert!(matches!(
            again.attach_executable(ImageMemory::open(&amd64).unwrap()),
            Err(MemoryError::ExecutableMismatch { .. })
        ));
        // Another arm64 program: no build ID to compare in a qemu core, but
        // the entry point in the auxiliary vector differs.
        if !name.starts_with("arm64-go1.22") {
            let other = mapscope_fixtures::get("arm64-go1.22").unwrap().binary_path().unwrap();
            assert!(matches!(
                again.attach_executable(ImageMemory::open(&other).unwrap()),
                Err(MemoryError::ExecutableMismatch { .. })
            ));
        }
    }
}

/// The kernel's aarch64 `elf_prstatus`: the x86-64 prefix (112 bytes), then
/// `user_pt_regs` (34 words), then `pr_fpvalid`.
fn prstatus_aarch64(tid: i32, regs: &[u64; 34]) -> Vec<u8> {
    let mut d = vec![0u8; 112 + 34 * 8 + 8];
    d[12..14].copy_from_slice(&6u16.to_le_bytes());
    d[32..36].copy_from_slice(&tid.to_le_bytes());
    for (i, r) in regs.iter().enumerate() {
        d[112 + 8 * i..120 + 8 * i].copy_from_slice(&r.to_le_bytes());
    }
    d
}

#[test]
fn kernel_style_aarch64_core_with_nt_file() {
    const BASE: u64 = 0x10000;
    const STACK: u64 = 0x4000_0000;
    // A small "executable": text from file offset 0, then read-only data.
    let mut e = ElfBuilder::new(ET_EXEC);
    e.machine = EM_AARCH64;
    e.entry = BASE + 0x1000;
    let mut text = Seg::new(BASE, 0x2000, PF_R | PF_X, Vec::new());
    text.file_offset = Some(0);
    text.filesz = Some(0x2000);
    let code: Vec<u8> = (0..0x1000u32).map(|i| (i * 13 + 1) as u8).collect();
    let exe_bytes = {
        let mut b = e.seg(text).build();
        b.resize(0x2000, 0);
        b[0x1000..0x2000].copy_from_slice(&code);
        b
    };
    let dir = TempDir::new("aarch64-kernel");
    let exe_path = dir.path().join("prog");
    std::fs::write(&exe_path, &exe_bytes).unwrap();

    let mut regs = [0u64; 34];
    for (i, r) in regs.iter_mut().enumerate().take(31) {
        *r = 0x1000 + i as u64;
    }
    regs[28] = 0xc000_0000; // g
    regs[31] = STACK + 0x800; // sp
    regs[32] = BASE + 0x1010; // pc
    regs[33] = 0x6000_0000; // pstate
    let mut c = ElfBuilder::new(ET_CORE);
    c.machine = EM_AARCH64;
    let mut text = Seg::new(BASE, 0x2000, PF_R | PF_X, exe_bytes[..0x1000].to_vec());
    text.filesz = Some(0x1000);
    let core_bytes = c
        .note(NT_PRSTATUS, prstatus_aarch64(77, &regs))
        .note(NT_AUXV, auxv(&[(6, 4096), (9, BASE + 0x1000)]))
        .note(
            NT_FILE,
            nt_file(4096, &[(BASE, BASE + 0x2000, 0, exe_path.to_str().unwrap())]),
        )
        .seg(text)
        .seg(Seg::new(STACK, 0x1000, PF_R | PF_W, vec![0x55; 0x1000]))
        .build();
    let mut core = CoreFile::from_bytes(Arc::new(core_bytes)).unwrap();
    let t = &core.notes().threads[0];
    assert_eq!((t.tid, t.registers.arch), (77, Arch::Aarch64));
    assert_eq!(t.registers.pc(), Some(BASE + 0x1010));
    assert_eq!(t.registers.sp(), Some(STACK + 0x800));
    assert_eq!(t.registers.go_g(), Some(0xc000_0000));
    assert_eq!(t.registers.words[30], 0x1000 + 30, "lr");
    // Without the executable, the code past the kept page names the file.
    assert!(matches!(
        core.read_vec(BASE + 0x1000, 4),
        Err(MemoryError::FileUnavailable { .. })
    ));
    core.attach_executable(ImageMemory::open(&exe_path).unwrap()).unwrap();
    assert!(matches!(
        core.source_at(BASE + 0x1000).map(|s| s.source),
        Some(CoreSource::Executable { .. })
    ));
    assert_eq!(core.read_vec(BASE + 0x1000, 16).unwrap(), code[..16].to_vec());
}
