//! The committed fixture corpus (no Go needed): every core opens, its notes
//! name the program, the fixture binary attaches (entry point and first page
//! agree), and what each program recorded about its own maps reads back:
//! the first word of every map header is its length, the first word of every
//! map type descriptor (read-only data, served from the executable) is 8, and
//! every recorded funcval holds its code pointer.

use mapscope::memory::{CoreFile, ImageMemory, Memory, MemoryExt};
use mapscope_fixtures::hex_u64;

#[test]
fn every_corpus_core_reads_what_its_program_recorded() {
    let fixtures = match mapscope_fixtures::all() {
        Ok(f) if !f.is_empty() => f,
        Ok(_) => {
            eprintln!("skipping: the fixture corpus is empty");
            return;
        }
        Err(e) => {
            eprintln!("skipping: no fixture corpus: {e}");
            return;
        }
    };
    let mut cores = 0;
    for fx in fixtures {
        let binary = fx.binary_path().unwrap_or_else(|e| panic!("{}: {e}", fx.name()));
        for run in fx.runs() {
            let truth = run
                .truth()
                .unwrap_or_else(|e| panic!("{} {}: {e}", fx.name(), run.entry.name));
            for kind in run.core_kinds() {
                let what = format!("{} {} {kind}", fx.name(), run.entry.name);
                let Some(path) = run.core_path(kind).unwrap_or_else(|e| panic!("{what}: {e}")) else {
                    continue;
                };
                check_core(&what, &path, &binary, &truth);
                cores += 1;
            }
        }
    }
    eprintln!("checked {cores} corpus cores");
}

fn check_core(what: &str, path: &std::path::Path, binary: &std::path::Path, truth: &mapscope_fixtures::Truth) {
    let core = CoreFile::open(path).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(core.warnings().is_empty(), "{what}: {:?}", core.warnings());
    assert!(!core.is_truncated(), "{what}");
    let info = core
        .notes()
        .process
        .clone()
        .unwrap_or_else(|| panic!("{what}: no NT_PRPSINFO"));
    assert_eq!(info.pid as u32, truth.pid, "{what}: pid");
    assert!(!info.fname.is_empty(), "{what}: program name");
    let exe = core
        .executable_path()
        .unwrap_or_else(|| panic!("{what}: no executable path"));
    let exe_name = exe.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        exe_name.starts_with(&info.fname),
        "{what}: {exe_name} vs {}",
        info.fname
    );
    assert!(!core.notes().threads.is_empty(), "{what}: threads");

    let core = core
        .with_executable(ImageMemory::open(binary).unwrap())
        .unwrap_or_else(|e| panic!("{what}: attaching {}: {e}", binary.display()));
    let mut headers = 0;
    for m in &truth.maps {
        let name = &m.name;
        if let Some(addr) = m.address_u64().filter(|&a| a != 0) {
            let len = core
                .read_u64(addr)
                .unwrap_or_else(|e| panic!("{what}: map {name} header at {addr:#x}: {e}"));
            assert_eq!(len, m.len as u64, "{what}: map {name} at {addr:#x}");
            assert!(core.is_mapped(addr, 48), "{what}: map {name}");
            headers += 1;
        }
        if let Some(t) = hex_u64(&m.type_address).filter(|&a| a != 0) {
            let size = core
                .read_u64(t)
                .unwrap_or_else(|e| panic!("{what}: type of {name} at {t:#x}: {e}"));
            assert_eq!(size, 8, "{what}: a map type's Size_ is one pointer ({name})");
        }
        for f in m.funcs.iter().flatten() {
            let (Some(fv), Some(pc)) = (hex_u64(&f.funcval), hex_u64(&f.pc)) else {
                continue;
            };
            if fv == 0 {
                continue;
            }
            let got = core
                .read_ptr(fv)
                .unwrap_or_else(|e| panic!("{what}: funcval of {name}[{}] at {fv:#x}: {e}", f.key));
            assert_eq!(got, pc, "{what}: funcval {fv:#x} of {}", f.name);
        }
    }
    assert!(headers > 0, "{what}: no map headers in the truth");
}
