//! The corpus itself: every fixture's truth parses and says what the manifest
//! says, every binary is the Go build the truth names, every core is an ELF
//! core of that program. Independent of mapscope's own readers on purpose.

use object::elf;
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, Object};

fn bytes(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn manifest_covers_every_variant_the_issue_asks_for() {
    let names: Vec<&str> = mapscope_fixtures::all().unwrap().iter().map(|f| f.name()).collect();
    for want in [
        "go1.19",
        "go1.21",
        "go1.22",
        "go1.23",
        "go1.24",
        "go1.24-noswiss",
        "go1.25",
        "go1.25-noswiss",
        "go1.26",
        "go1.27",
        "go1.27-split",
        "go1.22-stripped",
        "go1.26-stripped",
        "go1.27-stripped",
        // Issue #13: arm64 under qemu-user, classic, Swiss and stripped.
        "arm64-go1.22",
        "arm64-go1.26",
        "arm64-go1.27",
        "arm64-go1.27-stripped",
    ] {
        assert!(names.contains(&want), "corpus lacks {want}: {names:?}");
    }
    for fx in mapscope_fixtures::all()
        .unwrap()
        .iter()
        .filter(|f| f.goarch() == "arm64")
    {
        assert!(fx.core_path().is_ok(), "{}: no core", fx.name());
    }
    let all = mapscope_fixtures::all().unwrap();
    assert!(
        all.iter().any(|f| f.gcore_path().unwrap().is_some()),
        "no gcore core anywhere"
    );
    assert!(all.iter().any(|f| f.run("noaes").is_ok()), "no GODEBUG=cpu.aes=off run");
}

#[test]
fn every_truth_parses_and_matches_the_manifest() {
    for fx in mapscope_fixtures::all().unwrap() {
        for run in fx.runs() {
            let t = run.truth().unwrap();
            assert_eq!(t.go_version, run.entry.go_version, "{}", fx.name());
            assert_eq!(t.variant, run.entry.map_variant, "{}", fx.name());
            assert_eq!(t.maps.len(), run.entry.maps, "{}", fx.name());
            assert_eq!(
                (t.goos.as_str(), t.goarch.as_str()),
                ("linux", fx.goarch()),
                "{}",
                fx.name()
            );
            // The program's own claims about itself are consistent.
            for m in &t.maps {
                assert_eq!(m.entries.len(), m.len, "{} {}: entries vs len", fx.name(), m.name);
                assert!(m.address_u64().is_some(), "{} {}: address", fx.name(), m.name);
            }
            let expected = if fx.entry.goexperiment == "noswissmap" || fx.entry.go.as_str() < "1.24" {
                "classic"
            } else if fx.entry.goexperiment == "mapsplitgroup" {
                "swiss-split"
            } else {
                "swiss"
            };
            assert_eq!(
                t.variant,
                expected,
                "{}: build tags chose another map runtime",
                fx.name()
            );
        }
    }
}

/// The census truth: every map has one root and one owner expression, no two
/// maps share an owner, global roots are the global variables the symbol
/// table names, stack roots name their goroutine and function, exactly one
/// map's header is on a stack, and the collected maps' types belong to no
/// live map.
#[test]
fn every_truth_says_who_owns_each_map() {
    use object::ObjectSymbol;
    use std::collections::{HashMap, HashSet};
    let mut owned = 0;
    for fx in mapscope_fixtures::all().unwrap() {
        let symbols: HashMap<String, u64> = if fx.entry.stripped {
            HashMap::new()
        } else {
            let data = bytes(&fx.binary_path().unwrap());
            let file = ElfFile64::<Endianness>::parse(&*data).unwrap();
            file.symbols()
                .filter_map(|s| Some((s.name().ok()?.to_string(), s.address())))
                .collect()
        };
        for run in fx.runs() {
            let t = run.truth().unwrap();
            let ctx = format!("{} {}", fx.name(), run.entry.name);
            let mut owners = HashSet::new();
            for m in &t.maps {
                let ctx = format!("{ctx} {}", m.name);
                assert!(owners.insert(m.owner.as_str()), "{ctx}: owner {} twice", m.owner);
                match m.root.as_str() {
                    "global" => {
                        let addr = m.root_address_u64().unwrap_or_else(|| panic!("{ctx}: root_address"));
                        let var = m.owner.split(['.', '[']).take(2).collect::<Vec<_>>().join(".");
                        if let Some(&sym) = symbols.get(&var) {
                            assert_eq!(sym, addr, "{ctx}: {var} in the symbol table");
                        } else {
                            assert!(fx.entry.stripped, "{ctx}: no symbol {var}");
                        }
                        if m.reach == "global" {
                            assert_eq!(m.owner, m.name, "{ctx}");
                        }
                    }
                    "stack" => {
                        let (goid, func) = (m.goid.unwrap(), m.root_function.clone().unwrap());
                        assert!(
                            m.owner.starts_with(&format!("goroutine {goid} {func}: ")),
                            "{ctx}: {}",
                            m.owner
                        );
                    }
                    other => panic!("{ctx}: root {other:?}"),
                }
                owned += 1;
            }
            let on_stack: Vec<_> = t.maps.iter().filter(|m| m.header_on_stack).collect();
            assert_eq!(on_stack.len(), 1, "{ctx}: maps with the header on a stack");
            assert_eq!(on_stack[0].root, "stack", "{ctx}");
            assert!(t.collected.len() >= 2, "{ctx}: collected maps");
            for c in &t.collected {
                assert!(
                    t.maps
                        .iter()
                        .all(|m| m.type_name != c.type_name && m.address != c.address),
                    "{ctx}: collected {} at {} is live",
                    c.type_name,
                    c.address
                );
            }
        }
    }
    assert!(owned > 1000, "{owned}");
}

#[test]
fn every_binary_is_the_go_build_its_truth_names() {
    for fx in mapscope_fixtures::all().unwrap() {
        let data = bytes(&fx.binary_path().unwrap());
        let file = ElfFile64::<Endianness>::parse(&*data).unwrap();
        let want = match fx.goarch() {
            "arm64" => object::Architecture::Aarch64,
            _ => object::Architecture::X86_64,
        };
        assert_eq!(file.architecture(), want, "{}", fx.name());
        let version = fx.truth().unwrap().go_version;
        // `go version` reads the same string out of .go.buildinfo.
        let needle = version.as_bytes();
        assert!(
            data.windows(needle.len()).any(|w| w == needle),
            "{}: {version} not in the binary",
            fx.name()
        );
        let has_symtab = file.symbols().next().is_some();
        assert_eq!(has_symtab, !fx.entry.stripped, "{}: symbol table presence", fx.name());
    }
}

/// NT_FILE and NT_PRPSINFO of an ELF core: the mapped file names and the
/// program's short name.
fn core_notes(data: &[u8]) -> (Vec<String>, String) {
    let hdr = elf::FileHeader64::<Endianness>::parse(data).unwrap();
    let e = hdr.endian().unwrap();
    assert_eq!(hdr.e_type(e), elf::ET_CORE, "not an ELF core");
    let mut files = Vec::new();
    let mut fname = String::new();
    for ph in hdr.program_headers(e, data).unwrap() {
        let Some(mut notes) = ph.notes(e, data).unwrap() else {
            continue;
        };
        while let Some(note) = notes.next().unwrap() {
            if note.name() != b"CORE" {
                continue;
            }
            let desc = note.desc();
            match note.n_type(e) {
                elf::NT_FILE => {
                    let word = |i: usize| u64::from_le_bytes(desc[i * 8..i * 8 + 8].try_into().unwrap());
                    let count = word(0) as usize;
                    let names = &desc[16 + count * 24..];
                    files.extend(
                        names
                            .split(|&b| b == 0)
                            .filter(|s| !s.is_empty())
                            .map(|s| String::from_utf8_lossy(s).into_owned()),
                    );
                    assert_eq!(files.len(), count, "NT_FILE count");
                }
                elf::NT_PRPSINFO => {
                    // elf_prpsinfo on x86-64: pr_fname[16] at offset 40.
                    let raw = &desc[40..56];
                    let end = raw.iter().position(|&b| b == 0).unwrap_or(16);
                    fname = String::from_utf8_lossy(&raw[..end]).into_owned();
                }
                _ => {}
            }
        }
    }
    (files, fname)
}

#[test]
fn every_core_is_an_elf_core_of_its_program() {
    for fx in mapscope_fixtures::all().unwrap() {
        for run in fx.runs() {
            for kind in run.core_kinds() {
                let path = run.core_path(kind).unwrap().unwrap();
                let data = bytes(&path);
                let (files, fname) = core_notes(&data);
                assert_eq!(fname, "mapfix", "{} {} {kind}: NT_PRPSINFO", fx.name(), run.entry.name);
                if fx.goarch() == "arm64" {
                    // qemu-user writes no NT_FILE (README: arm64 cores from qemu-user).
                    assert!(files.is_empty(), "{} {} {kind}: {files:?}", fx.name(), run.entry.name);
                    continue;
                }
                assert!(
                    files.iter().any(|f| f.ends_with("/mapfix")),
                    "{} {} {kind}: NT_FILE does not name the program: {files:?}",
                    fx.name(),
                    run.entry.name
                );
            }
        }
    }
}

/// The `diff` pairs: both cores are ELF cores of `difffix` and of the one
/// process whose pid the truth gives; the truths say what each pair covers.
#[test]
fn every_diff_pair_is_two_snapshots_of_one_process() {
    let pairs = mapscope_fixtures::diffpair::pairs().unwrap();
    let names: Vec<&str> = pairs.iter().map(|p| p.name()).collect();
    for want in ["diff-go1.22", "diff-go1.26", "diff-go1.27-split-stripped"] {
        assert!(names.contains(&want), "no diff pair {want}: {names:?}");
    }
    for p in &pairs {
        let (before, after) = (p.before_truth().unwrap(), p.truth().unwrap());
        assert_eq!(before.pid, after.pid, "{}", p.name());
        assert_eq!(after.variant, p.entry.map_variant, "{}", p.name());
        for path in [p.before_core().unwrap(), p.after_core().unwrap()] {
            let data = bytes(&path);
            let (files, fname) = core_notes(&data);
            assert_eq!(fname, "difffix", "{}: NT_PRPSINFO", path.display());
            assert!(files.iter().any(|f| f.ends_with("/difffix")), "{}", path.display());
        }
        // Every map is described at both moments, and something changed.
        assert_eq!(before.maps.len(), after.maps.len());
        for (b, a) in before.maps.iter().zip(&after.maps) {
            assert_eq!(b.name, a.name);
            assert_eq!(b.before.entries, a.before.entries, "{} {}", p.name(), a.name);
            assert!(
                !(a.added.is_empty() && a.removed.is_empty() && a.changed.is_empty()),
                "{} {}: no change",
                p.name(),
                a.name
            );
        }
    }
}
