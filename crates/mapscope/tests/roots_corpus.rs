//! GC roots of every fixture core (kernel and gcore, stripped builds included),
//! checked against what the Go program said about itself: the global map
//! variables (DWARF addresses of the truth's `global` maps) are pointer words of
//! the runtime's data/bss masks; the goroutine parked in `main.stackKeeper`
//! holds the truth's header address of `stack:main.stackKeeper.m` in a live
//! pointer slot of that frame (or a stack object); the main goroutine sleeps in
//! `main.idle`/`time.Sleep`; every parked goroutine unwinds to `runtime.goexit`.

use std::time::Instant;

use mapscope::binary::GoBinary;
use mapscope::memory::{CoreFile, Memory, MemoryExt};
use mapscope::roots::{find_roots, Roots, RootsError};

fn check(name: &str, kind: &str, bin: &GoBinary, core: &CoreFile, truth: &mapscope_fixtures::Truth) -> Roots {
    let ctx = format!("{name} {kind}");
    let t0 = Instant::now();
    let roots = find_roots(bin, core, &core.notes().threads).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let took = t0.elapsed();
    let frames: usize = roots.goroutines.iter().map(|g| g.frames.len()).sum();
    eprintln!(
        "{ctx}: {} global slots, {} goroutines, {frames} frames, {} errors, allgs {:?}, {took:?}",
        roots.global_slots.len(),
        roots.goroutines.len(),
        roots.errors.len(),
        roots.allgs
    );
    eprintln!(
        "  statuses {:?}",
        roots.goroutines.iter().map(|g| (g.goid, g.status)).collect::<Vec<_>>()
    );
    for e in &roots.errors {
        eprintln!("  {ctx}: {e}");
    }
    assert!(
        roots.errors.iter().all(|e| !matches!(e, RootsError::GlobalMask { .. })),
        "{ctx}: global masks"
    );
    assert!(
        roots.global_slots.windows(2).all(|w| w[0] < w[1]),
        "{ctx}: slots ascending"
    );

    // Global map variables are pointer words (unstripped builds name them in DWARF).
    if bin.has_dwarf() {
        let mut checked = 0;
        for m in truth.maps.iter().filter(|m| m.reach == "global") {
            let Some(var) = bin.global(&m.name).unwrap() else {
                continue;
            };
            assert!(
                roots.global_slots.binary_search(&var.addr).is_ok(),
                "{ctx}: global {} at {:#x} is not a pointer slot",
                m.name,
                var.addr
            );
            checked += 1;
        }
        assert!(checked > 0, "{ctx}: no global map variable found in DWARF");
    }

    // The stack keeper: its frame refers to the map header. The header is on the
    // heap (a slot holds the truth's address), or, where the compiler kept it on
    // the stack, it is a stack object of that frame; the truth's address of a
    // stack-resident header goes stale when the stack is copied after the program
    // wrote it, so such a header is recognised by its count and hash seed.
    let m = truth
        .map("stack:main.stackKeeper.m")
        .unwrap_or_else(|| panic!("{ctx}: truth has no stack map"));
    let want = m.address_u64().unwrap();
    let seed = m.seed.as_deref().and_then(mapscope_fixtures::hex_u64).unwrap();
    let is_header = |a: u64| {
        a == want
            || (core.read_u64(a).ok() == Some(m.len as u64)
                && if truth.variant == "classic" {
                    core.read_u32(a + 12).ok().map(u64::from) == Some(seed)
                } else {
                    core.read_u64(a + 8).ok() == Some(seed)
                })
    };
    let keeper = roots
        .goroutines
        .iter()
        .find(|g| g.frames.iter().any(|f| f.function == "main.stackKeeper"))
        .unwrap_or_else(|| panic!("{ctx}: no goroutine in main.stackKeeper"));
    let frame = keeper.frames.iter().find(|f| f.function == "main.stackKeeper").unwrap();
    let in_slots = frame
        .pointer_slots
        .iter()
        .any(|&s| core.read_u64(s).is_ok_and(&is_header));
    let in_objects = frame.stack_objects.iter().any(|o| {
        is_header(o.addr)
            || o.pointer_offsets
                .iter()
                .any(|&p| core.read_u64(o.addr + u64::from(p)).is_ok_and(&is_header))
    });
    assert!(
        in_slots || in_objects,
        "{ctx}: no live slot or stack object of main.stackKeeper is the map {want:#x} (slots {:x?} = {:x?}, objects {:x?}, stack [{:#x}, {:#x}))",
        frame.pointer_slots,
        frame.pointer_slots.iter().map(|&s| core.read_u64(s).ok()).collect::<Vec<_>>(),
        frame.stack_objects,
        keeper.stack_lo,
        keeper.stack_hi
    );

    // The main goroutine sleeps in main.idle.
    let main = roots
        .goroutines
        .iter()
        .find(|g| g.frames.iter().any(|f| f.function == "main.main"))
        .unwrap_or_else(|| panic!("{ctx}: no goroutine in main.main"));
    assert!(
        main.frames.iter().any(|f| f.function == "main.idle"),
        "{ctx}: main.idle"
    );
    assert!(
        main.frames.iter().any(|f| f.function == "time.Sleep"),
        "{ctx}: time.Sleep"
    );

    // Every goroutine's chain ends at runtime.goexit (newproc makes it the return
    // PC of every goroutine's start function), and parked ones unwind without errors.
    for g in &roots.goroutines {
        let names: Vec<&str> = g.frames.iter().map(|f| f.function.as_str()).collect();
        assert_eq!(
            names.last().copied(),
            Some("runtime.goexit"),
            "{ctx}: goroutine {} (status {}) ends elsewhere: {names:?}",
            g.goid,
            g.status
        );
        let top = bin
            .func_by_name("runtime.goexit")
            .and_then(|f| bin.func_info(&f))
            .map(|i| i.flag & mapscope::binary::FUNC_FLAG_TOP_FRAME);
        assert_eq!(
            top,
            Some(mapscope::binary::FUNC_FLAG_TOP_FRAME),
            "{ctx}: goexit is a top frame"
        );
        if matches!(g.status, 1 | 3 | 4 | 9) {
            let gerrs: Vec<_> = roots
                .errors
                .iter()
                .filter(|e| match e {
                    RootsError::Goroutine { goid, .. } | RootsError::Frame { goid, .. } => *goid == g.goid,
                    _ => false,
                })
                .collect();
            assert!(
                gerrs.is_empty(),
                "{ctx}: parked goroutine {} has errors {gerrs:?}",
                g.goid
            );
        }
    }
    roots
}

#[test]
fn roots_of_every_core() {
    let mut cores = 0;
    // Unstripped variant name -> (global slot count, allgs address), to hold the
    // stripped twins (no symbols, no DWARF) to the same answers.
    let mut twins = std::collections::HashMap::new();
    let t0 = Instant::now();
    for fx in mapscope_fixtures::all().unwrap() {
        let run = fx.run("main").unwrap();
        let truth = run.truth().unwrap();
        let exe = fx.binary_path().unwrap();
        let bin = GoBinary::open(&exe).unwrap();
        for kind in run.core_kinds().collect::<Vec<_>>() {
            let path = run.core_path(kind).unwrap().unwrap();
            let core = CoreFile::open_with_executable(&path, &exe).unwrap();
            let _: &dyn Memory = &core;
            let roots = check(fx.name(), kind, &bin, &core, &truth);
            let got = (roots.global_slots.len(), roots.allgs.map(|a| a.0));
            match fx.name().strip_suffix("-stripped") {
                Some(twin) => {
                    let want = twins
                        .get(twin)
                        .unwrap_or_else(|| panic!("{}: twin {twin} not seen", fx.name()));
                    assert_eq!(
                        &got,
                        want,
                        "{} {kind}: (global slots, allgs) differ from {twin}",
                        fx.name()
                    );
                }
                None => {
                    twins.insert(fx.name().to_string(), got);
                }
            }
            cores += 1;
        }
    }
    assert!(cores >= 13, "only {cores} cores");
    eprintln!("{cores} cores in {:?}", t0.elapsed());
}

/// Timing on an external core (for example one with 10k parked goroutines):
/// `MAPSCOPE_ROOTS_CORE=core MAPSCOPE_ROOTS_EXE=exe cargo test --test roots_corpus -- --nocapture`.
/// Skips when the variables are unset.
#[test]
fn roots_of_external_core_timing() {
    let (Some(core), Some(exe)) = (
        std::env::var_os("MAPSCOPE_ROOTS_CORE"),
        std::env::var_os("MAPSCOPE_ROOTS_EXE"),
    ) else {
        return;
    };
    let bin = GoBinary::open(&exe).unwrap();
    let core = CoreFile::open_with_executable(&core, &exe).unwrap();
    let t0 = Instant::now();
    let roots = find_roots(&bin, &core, &core.notes().threads).unwrap();
    let took = t0.elapsed();
    let frames: usize = roots.goroutines.iter().map(|g| g.frames.len()).sum();
    eprintln!(
        "external core: {} goroutines, {frames} frames, {} global slots, {} errors in {took:?}",
        roots.goroutines.len(),
        roots.global_slots.len(),
        roots.errors.len()
    );
    for e in roots.errors.iter().take(20) {
        eprintln!("  {e}");
    }
}

/// A core read with another version's executable: every layout is wrong. The
/// answer may be an error or partial roots with errors, never a panic or a hang.
#[test]
fn mismatched_executable_never_panics() {
    let all = mapscope_fixtures::all().unwrap();
    let (Some(a), Some(b)) = (
        all.iter().find(|f| f.name() == "go1.22"),
        all.iter().find(|f| f.name() == "go1.26"),
    ) else {
        return;
    };
    for (exe_fx, core_fx) in [(a, b), (b, a)] {
        let bin = GoBinary::open(exe_fx.binary_path().unwrap()).unwrap();
        let core = CoreFile::open(core_fx.core_path().unwrap()).unwrap();
        let t0 = Instant::now();
        match find_roots(&bin, &core, &core.notes().threads) {
            Ok(r) => eprintln!(
                "{} exe on {} core: {} goroutines, {} errors",
                exe_fx.name(),
                core_fx.name(),
                r.goroutines.len(),
                r.errors.len()
            ),
            Err(e) => eprintln!("{} exe on {} core: {e}", exe_fx.name(), core_fx.name()),
        }
        assert!(t0.elapsed().as_secs() < 10);
    }
}
