//! `roots::local_name` on every fixture core: the goroutine parked in
//! `main.stackKeeper` (fixtures/go) keeps its map in the local `m`, so the
//! pointer word of that frame that holds the map header is named `m` by DWARF.
//! Which word holds the header comes from the program's own truth (the header
//! address, or its count and hash seed where the header itself is on the
//! stack), never from mapscope.
//!
//! Where the compiler kept the whole map on the stack (classic maps, Go
//! 1.21–1.25: the header is a compiler temporary and `m` is only ever the
//! rematerialized address of it, with an empty or absent DWARF location), no
//! live word of the frame holds the header's address, so there is no slot to
//! name: the test checks that the header is then a stack object of the frame
//! and that this temporary gets no (invented) name. Stripped builds name
//! nothing.
//!
//! A regenerated corpus with `main.localKeeper` (`lm`, whose header stays on
//! the stack) is checked the same way when its truth has that map.

use std::time::{Duration, Instant};

use mapscope::binary::{BinaryError, GoBinary};
use mapscope::memory::{CoreFile, MemoryExt};
use mapscope::roots::{find_roots, local_name, Frame, Roots};
use mapscope_fixtures::{MapTruth, Truth};

/// How a map of the truth was found in a frame.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    /// A word of the frame (pointer slot or pointer word of a stack object) holds the header: named as wanted.
    Named,
    /// The header is a stack object and no word of the frame points at it.
    HeaderOnlyOnStack,
}

/// The header of `m`: its truth address, or (stale where the stack moved after the
/// program wrote it) a word with the map's count followed by its hash seed.
fn header_test<'a>(core: &'a CoreFile, truth: &Truth, m: &'a MapTruth) -> impl Fn(u64) -> bool + 'a {
    let want = m.address_u64().unwrap();
    let seed = m.seed.as_deref().and_then(mapscope_fixtures::hex_u64);
    let classic = truth.variant == "classic";
    move |a: u64| {
        a == want
            || seed.is_some_and(|seed| {
                core.read_u64(a).ok() == Some(m.len as u64)
                    && if classic {
                        core.read_u32(a + 12).ok().map(u64::from) == Some(seed)
                    } else {
                        core.read_u64(a + 8).ok() == Some(seed)
                    }
            })
    }
}

/// Checks that the frame's word holding the map header is named `want`.
fn check_frame(
    ctx: &str,
    bin: &GoBinary,
    core: &CoreFile,
    frame: &Frame,
    is_header: &dyn Fn(u64) -> bool,
    want: &str,
) -> Found {
    // (address the census asks about, address of the word holding the header)
    let mut holders: Vec<(u64, u64)> = Vec::new();
    for &s in &frame.pointer_slots {
        if core.read_u64(s).is_ok_and(is_header) {
            holders.push((s, s));
        }
    }
    for o in &frame.stack_objects {
        for &p in &o.pointer_offsets {
            let w = o.addr + u64::from(p);
            if core.read_u64(w).is_ok_and(is_header) {
                holders.push((o.addr, w));
            }
        }
    }
    let header_objects: Vec<u64> = frame
        .stack_objects
        .iter()
        .map(|o| o.addr)
        .filter(|&a| is_header(a))
        .collect();

    if holders.is_empty() {
        assert!(
            !header_objects.is_empty(),
            "{ctx}: the map is neither pointed to by a live word nor a stack object of {} (slots {:x?} = {:x?}, objects {:x?})",
            frame.function,
            frame.pointer_slots,
            frame.pointer_slots.iter().map(|&s| core.read_u64(s).ok()).collect::<Vec<_>>(),
            frame.stack_objects
        );
        // No live word holds the header's address: no variable to name. (A dead
        // word may still hold it, such as the spilled argument of an earlier call.)
        let dead: Vec<(u64, Option<String>)> = (frame.sp..frame.fp)
            .step_by(8)
            .filter(|&w| core.read_u64(w).is_ok_and(|v| header_objects.contains(&v)))
            .map(|w| (w, local_name(bin, frame, w)))
            .collect();
        eprintln!("{ctx}: header {header_objects:x?} is a stack object; dead words pointing at it: {dead:x?}");
        for &h in &header_objects {
            assert_eq!(
                local_name(bin, frame, h),
                None,
                "{ctx}: the compiler's temporary header at {h:#x} has no DWARF variable"
            );
        }
        return Found::HeaderOnlyOnStack;
    }

    let named: Vec<(u64, u64, Option<String>, Option<String>)> = holders
        .iter()
        .map(|&(q, w)| (q, w, local_name(bin, frame, q), local_name(bin, frame, w)))
        .collect();
    let hit = named
        .iter()
        .find(|(_, _, a, b)| a.as_deref() == Some(want) || b.as_deref() == Some(want));
    let Some(&(_, word, _, _)) = hit else {
        panic!(
            "{ctx}: no word holding the map in {} is named {want:?}: {named:x?}; DWARF locals there: {:?}",
            frame.function,
            bin.frame_locals(frame.entry, frame.pc, frame.fp)
        );
    };
    // Every byte of the variable's slot is the variable; the bytes around it are not.
    for b in word..word + 8 {
        assert_eq!(local_name(bin, frame, b).as_deref(), Some(want), "{ctx}: byte {b:#x}");
    }
    for b in [word - 1, word + 8] {
        assert_ne!(local_name(bin, frame, b).as_deref(), Some(want), "{ctx}: byte {b:#x}");
    }
    Found::Named
}

fn frame_of<'r>(roots: &'r Roots, function: &str) -> Option<&'r Frame> {
    roots
        .goroutines
        .iter()
        .flat_map(|g| g.frames.iter())
        .find(|f| f.function == function)
}

#[test]
fn stack_maps_are_named_by_their_variable() {
    let (mut named, mut on_stack, mut stripped, mut local_keepers) = (0, Vec::new(), 0, 0);
    for fx in mapscope_fixtures::all().unwrap() {
        let exe = fx.binary_path().unwrap();
        let bin = GoBinary::open(&exe).unwrap();
        let run = fx.run("main").unwrap();
        let truth = run.truth().unwrap();
        for kind in run.core_kinds().collect::<Vec<_>>() {
            let ctx = format!("{} {kind}", fx.name());
            let core = CoreFile::open_with_executable(run.core_path(kind).unwrap().unwrap(), &exe).unwrap();
            let roots = find_roots(&bin, &core, &core.notes().threads).unwrap();

            if !bin.has_dwarf() {
                // Stripped: nothing is named, nothing fails.
                let mut asked = 0;
                for f in roots.goroutines.iter().flat_map(|g| g.frames.iter()) {
                    let addrs = f.pointer_slots.iter().copied();
                    for a in addrs.chain(f.stack_objects.iter().map(|o| o.addr)) {
                        assert_eq!(local_name(&bin, f, a), None, "{ctx}: {} {a:#x}", f.function);
                        asked += 1;
                    }
                    assert!(
                        matches!(bin.frame_local(f.entry, f.pc, f.fp, f.sp), Err(BinaryError::NoDwarf)),
                        "{ctx}: frame_local without DWARF"
                    );
                }
                assert!(asked > 0, "{ctx}: no slot asked");
                stripped += 1;
                continue;
            }

            let m = truth.map("stack:main.stackKeeper.m").expect("truth has the stack map");
            let keeper = frame_of(&roots, "main.stackKeeper").unwrap_or_else(|| panic!("{ctx}: no main.stackKeeper"));
            match check_frame(&ctx, &bin, &core, keeper, &header_test(&core, &truth, m), "m") {
                Found::Named => named += 1,
                Found::HeaderOnlyOnStack => on_stack.push(ctx.clone()),
            }

            // The regenerated corpus: a non-escaping map kept in `lm`.
            if let Some(lm) = truth.map("stack:main.localKeeper.lm") {
                let f = frame_of(&roots, "main.localKeeper").unwrap_or_else(|| panic!("{ctx}: no main.localKeeper"));
                let found = check_frame(&ctx, &bin, &core, f, &header_test(&core, &truth, lm), "lm");
                eprintln!("{ctx}: localKeeper lm: {found:?}");
                local_keepers += 1;
            }
        }
    }
    eprintln!(
        "named m: {named}; header only on the stack (nothing to name): {on_stack:?}; stripped: {stripped}; localKeeper: {local_keepers}"
    );
    assert!(named >= 6, "m named in only {named} cores");
    assert!(stripped >= 2, "only {stripped} stripped cores");
}

/// Every live slot and stack object of every frame: a name, where there is
/// one, is a variable DWARF places there; and timings.
#[test]
fn every_slot_lookup_is_consistent_and_cheap() {
    let mut largest: Option<(u64, std::path::PathBuf, &str)> = None;
    let mut total = Duration::ZERO;
    let (mut lookups, mut names) = (0u64, 0u64);
    for fx in mapscope_fixtures::all().unwrap() {
        let exe = fx.binary_path().unwrap();
        let bin = GoBinary::open(&exe).unwrap();
        if !bin.has_dwarf() {
            continue;
        }
        let size = std::fs::metadata(&exe).unwrap().len();
        if largest.as_ref().map_or(true, |(s, _, _)| size > *s) {
            largest = Some((size, exe.clone(), fx.name()));
        }
        let core = CoreFile::open_with_executable(fx.core_path().unwrap(), &exe).unwrap();
        let roots = find_roots(&bin, &core, &core.notes().threads).unwrap();
        for f in roots.goroutines.iter().flat_map(|g| g.frames.iter()) {
            let locals = bin.frame_locals(f.entry, f.pc, f.fp).unwrap();
            let addrs: Vec<u64> = f
                .pointer_slots
                .iter()
                .copied()
                .chain(f.stack_objects.iter().map(|o| o.addr))
                .collect();
            for a in addrs {
                let t0 = Instant::now();
                let n = local_name(&bin, f, a);
                total += t0.elapsed();
                lookups += 1;
                if let Some(n) = n {
                    names += 1;
                    assert!(
                        locals.iter().any(|l| l.name == n && l.slot <= a && a < l.slot + l.len),
                        "{} {}: {n} at {a:#x} is not among {locals:?}",
                        fx.name(),
                        f.function
                    );
                }
            }
        }
    }
    eprintln!(
        "{lookups} lookups ({names} named), {:?} each on average (first lookups in a function decode it)",
        total / lookups.max(1) as u32
    );

    // The largest binary, opened afresh: DWARF load, then the subprogram table,
    // then the first and the cached lookups in the stack keeper's frame.
    let (_, exe, name) = largest.unwrap();
    let bin = GoBinary::open(&exe).unwrap();
    let fx = mapscope_fixtures::get(name).unwrap();
    let core = CoreFile::open_with_executable(fx.core_path().unwrap(), &exe).unwrap();
    let roots = find_roots(&bin, &core, &core.notes().threads).unwrap();
    let keeper = frame_of(&roots, "main.stackKeeper").unwrap();
    let t0 = Instant::now();
    bin.globals().unwrap();
    let load = t0.elapsed();
    let t1 = Instant::now();
    let subs = bin.dwarf_subprogram_count().unwrap();
    let index = t1.elapsed();
    let slot = keeper.pointer_slots.first().copied().unwrap_or(keeper.sp);
    let t2 = Instant::now();
    let first = local_name(&bin, keeper, slot);
    let decode = t2.elapsed();
    let reps = 100_000u32;
    let t3 = Instant::now();
    for i in 0..reps {
        std::hint::black_box(local_name(&bin, keeper, keeper.sp + u64::from(i % 1024)));
    }
    let per = t3.elapsed() / reps;
    // Worst case for a census: every function's variables decoded once.
    let t4 = Instant::now();
    let mut funcs = 0;
    for f in bin.functions().flatten() {
        std::hint::black_box(bin.frame_locals(f.entry, f.entry, 0x10000).unwrap());
        funcs += 1;
    }
    let all = t4.elapsed();
    eprintln!(
        "{name} ({}): DWARF load {load:?}; subprogram table ({subs} subprograms) {index:?}; \
         first lookup in main.stackKeeper ({first:?}, decodes it) {decode:?}; cached lookup {per:?}; \
         decoding all {funcs} functions {all:?}",
        exe.display()
    );
    assert!(subs > 1000, "{subs} subprograms");
    assert!(per < Duration::from_millis(1), "lookup {per:?}");
}
