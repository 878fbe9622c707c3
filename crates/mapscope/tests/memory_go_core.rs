//! Real cores of a real Go program: the program prints the addresses and bytes
//! of a string literal (read-only data), a heap object, a .data global, a
//! static funcval and code; reading those addresses from a kernel core and from
//! a gcore core must give exactly those bytes. Skips (saying why) without Go,
//! gcore or core dumps.

mod memory_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use mapscope::memory::{CoreFile, CoreSource, ImageMemory, Memory, MemoryError, MemoryExt};
use memory_support::*;

fn kernel_cores_possible() -> Result<(), String> {
    let pattern = std::fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap_or_default();
    if pattern.trim_start().starts_with('|') {
        return Err(format!("core_pattern pipes cores to a program ({})", pattern.trim()));
    }
    Ok(())
}

fn find_core(dir: &Path, pid: i32) -> Option<PathBuf> {
    [dir.join("core"), dir.join(format!("core.{pid}"))]
        .into_iter()
        .find(|p| p.is_file())
}

/// Checks every printed fact against the core, with the executable attached.
fn check_core(core: &CoreFile, facts: &Facts, what: &str) {
    for (name, addr, want) in &facts.items {
        let got = core
            .read_vec(*addr, want.len() as u64)
            .unwrap_or_else(|e| panic!("{what}: reading the {name} at {addr:#x}: {e}"));
        assert_eq!(&got, want, "{what}: the {name} at {addr:#x}");
        assert!(core.is_mapped(*addr, want.len() as u64), "{what}: {name} mapped");
    }
    assert_eq!(
        core.read_u64(facts.map_addr).unwrap(),
        facts.map_len,
        "{what}: map count"
    );
    let p = core.notes().process.as_ref().expect("NT_PRPSINFO");
    assert_eq!(p.pid, facts.pid, "{what}: pid in NT_PRPSINFO");
    assert!(!core.notes().threads.is_empty(), "{what}: threads");
    assert!(core.notes().threads.iter().all(|t| t.registers.pc().is_some()));
    eprintln!(
        "{what}: all {} items and the map count read back exactly",
        facts.items.len()
    );
}

fn build(go: &Path, dir: &Path, name: &str, extra: &[&str]) -> Option<PathBuf> {
    match go_build(go, dir, GO_PROG, name, extra) {
        Ok(p) => Some(p),
        Err(e) => {
            eprintln!("skipping {name}: go build failed: {e}");
            None
        }
    }
}

fn kernel_core_case(go: &Path, version: &str, pie: bool) {
    let dir = TempDir::new(&format!("kcore-{version}-{pie}"));
    let name = if pie { "progpie" } else { "prog" };
    let extra: &[&str] = if pie { &["-buildmode=pie"] } else { &[] };
    let Some(exe) = build(go, dir.path(), name, extra) else {
        return;
    };
    let (mut child, facts) = start_go_prog(&exe, dir.path(), true);
    // SAFETY: plain kill(2) of our own child.
    unsafe { libc::kill(child.pid(), libc::SIGABRT) };
    let _ = child.0.wait();
    let Some(core_path) = find_core(dir.path(), facts.pid) else {
        eprintln!("skipping go {version}: the kernel wrote no core (limits or core_pattern)");
        return;
    };
    let what = format!("go {version} kernel core{}", if pie { " (PIE)" } else { "" });
    let core = CoreFile::open(&core_path).unwrap();
    assert!(core.warnings().is_empty(), "{what}: {:?}", core.warnings());
    // The core names its program.
    let named = core.executable_path().expect("executable path from the core");
    assert_eq!(
        std::fs::canonicalize(&named).unwrap(),
        std::fs::canonicalize(&exe).unwrap(),
        "{what}"
    );
    // Without the executable, the literal (read-only, left out by the kernel) is missing.
    let (_, lit_addr, lit) = &facts.items[0];
    match core.read_vec(*lit_addr, lit.len() as u64) {
        Err(MemoryError::FileUnavailable { .. }) => {}
        other => panic!("{what}: literal without the executable: {other:?}"),
    }
    // Another build of the same source (one string changed) is refused: its
    // build ID differs even though the entry point is likely the same.
    if let Some(other) = build(
        go,
        dir.path(),
        &format!("{name}2"),
        &[extra, &["-ldflags=-X main.lit=another-literal"]].concat(),
    ) {
        let mut c2 = CoreFile::open(&core_path).unwrap();
        match c2.attach_executable(ImageMemory::open(&other).unwrap()) {
            Err(MemoryError::ExecutableMismatch { .. }) => {}
            other => panic!("{what}: another build was accepted: {other:?}"),
        }
    }
    // A stripped copy of the same build loads the same bytes and must be accepted.
    if let Some(strip) = which("strip") {
        let stripped = dir.path().join(format!("{name}.stripped"));
        let ok = Command::new(strip)
            .arg("-o")
            .arg(&stripped)
            .arg(&exe)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            let mut c2 = CoreFile::open(&core_path).unwrap();
            c2.attach_executable(ImageMemory::open(&stripped).unwrap())
                .unwrap_or_else(|e| panic!("{what}: stripped copy refused: {e}"));
            assert_eq!(&c2.read_vec(*lit_addr, lit.len() as u64).unwrap(), lit);
        }
    }
    let core = core.with_executable(ImageMemory::open(&named).unwrap()).unwrap();
    assert!(
        matches!(core.source_at(*lit_addr).unwrap().source, CoreSource::Executable { .. }),
        "{what}: the literal comes from the executable"
    );
    check_core(&core, &facts, &what);
    if pie {
        assert_ne!(core.executable_bias(), Some(0), "{what}: PIE bias");
    }
    // Go reserves its arenas PROT_NONE; the kernel records them with no permissions.
    if let Some(r) = core.regions().iter().find(|r| !r.perms.read) {
        assert!(
            matches!(core.read_u8(r.start), Err(MemoryError::NoAccess { .. })),
            "{what}"
        );
        assert!(!core.is_mapped(r.start, 1));
    }
}

#[test]
fn kernel_cores_match_what_the_program_printed() {
    if let Err(why) = kernel_cores_possible() {
        eprintln!("skipping: {why}");
        return;
    }
    let tools = some_go_toolchains();
    if tools.is_empty() {
        // .ci/run installs the toolchains and sets this: there the test must run.
        assert!(
            std::env::var_os("MAPSCOPE_REQUIRE_GO").is_none(),
            "MAPSCOPE_REQUIRE_GO is set but no Go toolchain was found (fixtures/toolchains.sh)"
        );
        eprintln!("skipping: no Go toolchain installed");
        return;
    }
    for (version, go) in &tools {
        kernel_core_case(go, version, false);
    }
    kernel_core_case(&tools[0].1, &tools[0].0, true);
}

fn gcore_case(go: &Path, version: &str, pie: bool, gcore: &Path) {
    let dir = TempDir::new(&format!("gcore-{version}-{pie}"));
    let name = if pie { "progpie" } else { "prog" };
    let extra: &[&str] = if pie { &["-buildmode=pie"] } else { &[] };
    let Some(exe) = build(go, dir.path(), name, extra) else {
        return;
    };
    let (child, facts) = start_go_prog(&exe, dir.path(), false);
    let prefix = dir.path().join("g");
    let out = Command::new(gcore)
        .arg("-o")
        .arg(&prefix)
        .arg(facts.pid.to_string())
        .output()
        .unwrap();
    drop(child);
    let core_path = dir.path().join(format!("g.{}", facts.pid));
    if !core_path.is_file() {
        eprintln!(
            "skipping gcore for go {version}: gcore failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    let what = format!("go {version} gcore{}", if pie { " (PIE)" } else { "" });
    let size = std::fs::metadata(&core_path).unwrap().len();
    let t = Instant::now();
    let core = CoreFile::open(&core_path).unwrap();
    eprintln!("{what}: opened a {} MB core in {:?}", size >> 20, t.elapsed());
    let named = core.executable_path().expect("executable path from the core");
    assert_eq!(
        std::fs::canonicalize(&named).unwrap(),
        std::fs::canonicalize(&exe).unwrap()
    );
    let core = core.with_executable(ImageMemory::open(&exe).unwrap()).unwrap();
    check_core(&core, &facts, &what);
    // gcore leaves the read-only data mapping out of the core entirely.
    let (_, lit_addr, _) = &facts.items[0];
    assert!(
        !core
            .segments()
            .iter()
            .any(|s| s.vaddr <= *lit_addr && *lit_addr - s.vaddr < s.available),
        "{what}: the literal was expected to be missing from the core"
    );
    assert!(core.region_at(*lit_addr).is_some(), "{what}: region from NT_FILE");
}

#[test]
fn gcore_cores_match_what_the_program_printed() {
    let Some(gcore) = which("gcore") else {
        eprintln!("skipping: gcore is not installed");
        return;
    };
    let tools = go_toolchains();
    let Some((version, go)) = tools.first() else {
        // .ci/run installs the toolchains and sets this: there the test must run.
        assert!(
            std::env::var_os("MAPSCOPE_REQUIRE_GO").is_none(),
            "MAPSCOPE_REQUIRE_GO is set but no Go toolchain was found (fixtures/toolchains.sh)"
        );
        eprintln!("skipping: no Go toolchain installed");
        return;
    };
    gcore_case(go, version, false, &gcore);
    gcore_case(go, version, true, &gcore);
}
