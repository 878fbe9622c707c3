//! The pprof writer: the encoded profile decoded by an independent protobuf
//! reader (below, written from profile.proto, sharing no code with the
//! encoder), then — when a Go toolchain is at hand — read by `go tool pprof`
//! itself (`-top`, `-traces`, `-diff_base`).

use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

use mapscope::profile::{encode, write_pprof, ProfileMap, ProfileMeta};
use mapscope_fixtures::pprof::{decode, find_go, pprof};

// ---------------------------------------------------------------------------
// A small census.

struct OwnedMap {
    frames: Vec<String>,
    map_type: String,
    bytes: u64,
    live_bytes: u64,
    waste_bytes: u64,
}

fn m(frames: &[&str], map_type: &str, bytes: u64, live_bytes: u64) -> OwnedMap {
    OwnedMap {
        frames: frames.iter().map(|s| s.to_string()).collect(),
        map_type: map_type.to_string(),
        bytes,
        live_bytes,
        waste_bytes: bytes - live_bytes,
    }
}

fn borrow(maps: &[OwnedMap]) -> Vec<ProfileMap<'_>> {
    maps.iter()
        .map(|o| ProfileMap {
            frames: &o.frames,
            map_type: &o.map_type,
            bytes: o.bytes,
            live_bytes: o.live_bytes,
            waste_bytes: o.waste_bytes,
        })
        .collect()
}

fn census_a() -> Vec<OwnedMap> {
    vec![
        m(
            &["main.registry", ".byName[\"eu\"]", ".items"],
            "map[string]int",
            4096,
            3000,
        ),
        // Same stack as the first: a separate sample, merged by pprof.
        m(
            &["main.registry", ".byName[\"eu\"]", ".items"],
            "map[string]int",
            1024,
            1000,
        ),
        m(
            &["main.registry", ".byName[\"us\"]", ".items"],
            "map[string]int",
            2048,
            2000,
        ),
        m(&["goroutine main.scan", "m"], "map[int64]*main.T", 8192, 512),
        m(&["main.cache"], "map (type unknown)", 100, 100),
    ]
}

fn meta() -> ProfileMeta {
    ProfileMeta {
        comment: vec!["program: fixture".into(), "go1.26.6".into()],
        time_nanos: 1_700_000_000_123_456_789,
    }
}

#[test]
fn profile_decodes_to_the_census() {
    let owned = census_a();
    let maps = borrow(&owned);
    let d = decode(&encode(&maps, &meta()));

    assert_eq!(d.strings[0], "");
    let unique: HashSet<&String> = d.strings.iter().collect();
    assert_eq!(unique.len(), d.strings.len(), "string table has duplicates");
    assert_eq!(
        d.sample_types,
        [
            ("maps", "count"),
            ("bytes", "bytes"),
            ("live_bytes", "bytes"),
            ("waste_bytes", "bytes")
        ]
        .map(|(a, b)| (a.to_string(), b.to_string()))
    );
    assert_eq!(d.default_sample_type, "bytes");
    assert_eq!(d.comments, ["program: fixture", "go1.26.6"]);
    assert_eq!(d.time_nanos, 1_700_000_000_123_456_789);

    // One sample per map, in order; leaf (type) first, root last.
    assert_eq!(d.samples.len(), owned.len());
    for (o, (stack, values)) in owned.iter().zip(&d.samples) {
        let mut want = vec![o.map_type.clone()];
        want.extend(o.frames.iter().rev().cloned());
        assert_eq!(stack, &want);
        assert_eq!(stack.first(), Some(&o.map_type), "leaf is the type");
        assert_eq!(stack.last(), o.frames.first(), "last is the root");
        assert_eq!(
            values,
            &vec![1, o.bytes as i64, o.live_bytes as i64, o.waste_bytes as i64]
        );
    }

    // Functions and locations deduplicated by name, ids unique and non-zero.
    let names: HashSet<&str> = owned
        .iter()
        .flat_map(|o| o.frames.iter().map(String::as_str).chain([o.map_type.as_str()]))
        .collect();
    assert_eq!(d.functions.len(), names.len());
    assert_eq!(d.locations.len(), names.len());
    let fn_names: HashSet<&str> = d.functions.iter().map(|(_, n)| n.as_str()).collect();
    assert_eq!(fn_names, names);
    let fn_ids: HashSet<u64> = d.functions.iter().map(|(id, _)| *id).collect();
    let loc_ids: HashSet<u64> = d.locations.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(fn_ids.len(), names.len());
    assert_eq!(loc_ids.len(), names.len());
    assert!(!fn_ids.contains(&0) && !loc_ids.contains(&0));

    // One mapping, already symbolized, owning every location.
    assert_eq!(d.mappings, [(1, true)]);
    assert!(d.locations.iter().all(|(_, mapping, _)| *mapping == 1));
}

#[test]
fn empty_census_and_extreme_values() {
    let d = decode(&encode(&[], &ProfileMeta::default()));
    assert_eq!(d.strings[0], "");
    assert_eq!(d.sample_types.len(), 4);
    assert!(d.samples.is_empty() && d.functions.is_empty() && d.comments.is_empty());
    assert_eq!(d.time_nanos, 0);

    // No frames at all: the stack is the type alone. Values beyond i64 clamp.
    let frames: Vec<String> = Vec::new();
    let map = ProfileMap {
        frames: &frames,
        map_type: "map[string]int",
        bytes: u64::MAX,
        live_bytes: 0,
        waste_bytes: 7,
    };
    let d = decode(&encode(&[map], &ProfileMeta::default()));
    assert_eq!(
        d.samples,
        [(vec!["map[string]int".to_string()], vec![1, i64::MAX, 0, 7])]
    );
}

#[test]
fn write_pprof_is_gzipped_encode() {
    let owned = census_a();
    let maps = borrow(&owned);
    let mut gz = Vec::new();
    write_pprof(&maps, &meta(), &mut gz).unwrap();
    assert_eq!(&gz[..2], &[0x1f, 0x8b]);
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut raw).unwrap();
    assert_eq!(raw, encode(&maps, &meta()));
}

// ---------------------------------------------------------------------------
// `go tool pprof` itself.

fn write_file(name: &str, maps: &[OwnedMap]) -> String {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("profile_pprof-{}-{name}", std::process::id()));
    let mut file = std::fs::File::create(&path).unwrap();
    write_pprof(&borrow(maps), &meta(), &mut file).unwrap();
    path.to_str().unwrap().to_string()
}

/// The `-top` row whose name is `name`: (flat, cum) as printed.
fn top_row<'a>(top: &'a str, name: &str) -> Option<(&'a str, &'a str)> {
    top.lines().find_map(|l| {
        let cols: Vec<&str> = l.split_whitespace().collect();
        (cols.len() >= 6 && cols[5..].join(" ") == name).then(|| (cols[0], cols[3]))
    })
}

#[test]
fn go_tool_pprof_reads_the_profile() {
    let Some(go) = find_go() else {
        // .ci/run installs the toolchains and sets this: there the test must run.
        assert!(
            std::env::var_os("MAPSCOPE_REQUIRE_GO").is_none(),
            "MAPSCOPE_REQUIRE_GO is set but no Go toolchain was found (fixtures/toolchains.sh)"
        );
        eprintln!("note: no Go toolchain found ($MAPSCOPE_GO, ~/.cache/mapscope/go/*/bin/go, PATH); skipping");
        return;
    };
    let a = write_file("a.pb.gz", &census_a());

    let top = pprof(
        &go,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &["-top", "-sample_index=bytes", &a],
    );
    println!("{top}");
    assert!(top.contains("Type: bytes"), "{top}");
    assert!(top.contains("program: fixture"), "{top}");
    // 4096+1024+2048+8192+100 = 15460 bytes in all (pprof's kB is 1024).
    assert!(top.contains("accounting for 15.10kB, 100% of 15.10kB total"), "{top}");
    assert_eq!(top_row(&top, "map[int64]*main.T"), Some(("8kB", "8kB")), "{top}");
    assert_eq!(top_row(&top, "map[string]int"), Some(("7kB", "7kB")), "{top}");
    assert_eq!(top_row(&top, "map (type unknown)"), Some(("0.10kB", "0.10kB")), "{top}");
    assert_eq!(top_row(&top, "main.registry"), Some(("0", "7kB")), "{top}");
    assert_eq!(top_row(&top, ".byName[\"eu\"]"), Some(("0", "5kB")), "{top}");
    assert_eq!(top_row(&top, "goroutine main.scan"), Some(("0", "8kB")), "{top}");

    let count = pprof(
        &go,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &["-top", "-sample_index=maps", &a],
    );
    assert!(count.contains("accounting for 5, 100% of 5 total"), "{count}");
    assert_eq!(top_row(&count, "map[string]int"), Some(("3", "3")), "{count}");
    let waste = pprof(
        &go,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &["-top", "-sample_index=waste_bytes", &a],
    );
    assert_eq!(
        top_row(&waste, "map[int64]*main.T"),
        Some(("7.50kB", "7.50kB")),
        "{waste}"
    );

    // -traces: each sample's stack printed leaf first, the root last.
    let traces = pprof(&go, Path::new(env!("CARGO_TARGET_TMPDIR")), &["-traces", &a]);
    println!("{traces}");
    let eu: Vec<&str> = traces
        .split("-----------+-------------------------------------------------------")
        .filter(|t| t.contains(".byName[\"eu\"]"))
        .collect();
    assert_eq!(
        eu.len(),
        2,
        "the two maps under .byName[\"eu\"] stay two samples:\n{traces}"
    );
    // Each trace: "      4kB   map[string]int" then one frame a line, outward.
    let mut values = Vec::new();
    for t in eu {
        let mut lines = t.lines().map(str::trim).filter(|l| !l.is_empty());
        let (value, leaf) = lines.next().unwrap().split_once(char::is_whitespace).unwrap();
        values.push(value.to_string());
        let mut frames = vec![leaf.trim()];
        frames.extend(lines);
        assert_eq!(
            frames,
            ["map[string]int", ".items", ".byName[\"eu\"]", "main.registry"],
            "{t}"
        );
    }
    values.sort();
    assert_eq!(values, ["1kB", "4kB"], "{traces}");

    // -diff_base: a second census where the "eu" items grew and the scan map went.
    let mut later = census_a();
    later[0].bytes += 10240;
    later.remove(3);
    let b = write_file("b.pb.gz", &later);
    let diff = pprof(
        &go,
        Path::new(env!("CARGO_TARGET_TMPDIR")),
        &["-top", "-diff_base", &a, &b],
    );
    println!("{diff}");
    assert_eq!(top_row(&diff, "map[string]int"), Some(("10kB", "10kB")), "{diff}");
    assert_eq!(top_row(&diff, ".byName[\"eu\"]"), Some(("0", "10kB")), "{diff}");
    assert_eq!(top_row(&diff, "map[int64]*main.T"), Some(("-8kB", "-8kB")), "{diff}");
    assert_eq!(
        top_row(&diff, "map (type unknown)"),
        None,
        "unchanged frames drop out:\n{diff}"
    );
}
