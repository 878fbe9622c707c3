//! The heap model against every fixture core (kernel and gcore, stripped
//! included). Every fact asserted comes from the Go programs' own truth: map
//! header, table, bucket and group addresses, map type descriptor addresses,
//! struct layouts; and from the binaries' own DWARF and symbol tables.

use std::collections::BTreeSet;
use std::time::Instant;

use mapscope::binary::GoBinary;
use mapscope::heap::{layout, locate, Heap, Object};
use mapscope::memory::{CoreFile, Memory};
use mapscope_fixtures::{hex_u64, MapTruth, Truth};

/// Key/elem types whose buckets/groups hold no pointers (direct, ≤ 128 bytes).
const SCALARS: &[&str] = &[
    "bool",
    "int",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "uintptr",
    "float32",
    "float64",
    "complex64",
    "complex128",
];

fn minor(v: &str) -> u32 {
    v.strip_prefix("go1.")
        .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|m| m.parse().ok())
        .unwrap()
}

fn header_struct(t: &Truth) -> &mapscope_fixtures::StructTruth {
    t.structs
        .get(if t.variant == "classic" {
            "runtime.hmap"
        } else {
            "internal/runtime/maps.Map"
        })
        .expect("truth has the map header struct")
}

/// The pointer words of a map header, from the program's own mirror of it.
fn header_pointer_offsets(t: &Truth) -> BTreeSet<u32> {
    let s = header_struct(t);
    let names: &[&str] = if t.variant == "classic" {
        &["buckets", "oldbuckets", "extra"]
    } else {
        &["dirPtr"]
    };
    names.iter().map(|n| s.fields[*n] as u32).collect()
}

#[derive(Default)]
struct Counts {
    cores: usize,
    headers: usize,
    containers: usize,
    typed: usize,
    noscan_controls: usize,
    pointerful: usize,
    tables: usize,
    stack_headers: usize,
    large_typed: usize,
    pointer_words: usize,
    dangling: usize,
    conservative: usize,
}

/// A bucket array / group / groups array at `data` (its first element): the
/// object holding it starts its data there, carries the map's group/bucket
/// type when it has a type word, and has pointer words iff the slots do.
fn check_container(heap: &Heap, mem: &dyn Memory, t: &Truth, m: &MapTruth, data: u64, ctx: &str, n: &mut Counts) {
    let obj = heap
        .find(data)
        .unwrap_or_else(|| panic!("{ctx}: container {data:#x} not an allocated object"));
    assert_eq!(heap.data_start(obj), data, "{ctx}: container {data:#x} object {obj:?}");
    let want_type = m
        .descriptor_u64(if t.variant == "classic" { "bucket" } else { "group" })
        .unwrap();
    if let Some(ty) = heap.type_of(mem, obj) {
        assert_eq!(ty, want_type, "{ctx}: type_of container {data:#x}");
        n.typed += 1;
        if obj.size > 32768 {
            n.large_typed += 1;
        }
    }
    let mut offs = Vec::new();
    heap.pointer_offsets(mem, obj, &mut offs).unwrap();
    assert!(offs.windows(2).all(|w| w[0] < w[1]), "{ctx}: offsets ascend");
    let header = (data - obj.base) as u32;
    assert!(!offs.contains(&0) || header == 0, "{ctx}: malloc header word reported");
    let scalar = SCALARS.contains(&m.key_type.as_str()) && SCALARS.contains(&m.elem_type.as_str());
    if scalar {
        assert!(offs.is_empty(), "{ctx}: scalar map's container has pointers {offs:?}");
        n.noscan_controls += 1;
    }
    if m.key_type == "string" {
        // Key 0's data pointer: after the tophash array (classic) or the
        // control word (Swiss), at the descriptor's key offset.
        let key0 = if t.variant == "classic" {
            8
        } else {
            m.descriptor_u64("KeysOff").unwrap_or(8)
        };
        assert!(
            offs.contains(&(header + key0 as u32)),
            "{ctx}: container {data:#x} (object {obj:?}) lacks key 0's pointer at +{key0}: {offs:?}"
        );
        n.pointerful += 1;
    }
    if heap.type_of(mem, obj).is_none() && minor(&t.go_version) >= 22 && obj.size > 512 && !offs.is_empty() {
        panic!("{ctx}: a >512-byte pointerful container without a type");
    }
    n.containers += 1;
}

/// Every object's pointer map reads, ascends, stays inside the object and
/// skips its malloc header; pointer words that land in an in-use span land in
/// an allocated slot.
fn whole_heap(heap: &Heap, mem: &dyn Memory, ctx: &str, n: &mut Counts) {
    let mut offs = Vec::new();
    let mut word = [0u8; 8];
    for obj in heap.objects() {
        heap.pointer_offsets(mem, obj, &mut offs)
            .unwrap_or_else(|e| panic!("{ctx}: {obj:?}: {e}"));
        assert!(offs.windows(2).all(|w| w[0] < w[1]), "{ctx}: {obj:?}");
        let lo = (heap.data_start(obj) - obj.base) as u32;
        assert!(
            offs.iter().all(|&o| o >= lo && u64::from(o) + 8 <= obj.size),
            "{ctx}: {obj:?} {offs:?}"
        );
        for &o in &offs {
            mem.read(obj.base + u64::from(o), &mut word).unwrap();
            let v = u64::from_le_bytes(word);
            n.pointer_words += 1;
            if v != 0 && heap.find(v).is_none() && heap.find(v & !7).is_none() && in_span(heap, v) {
                n.dangling += 1;
            }
        }
    }
}

/// Whether `v` is inside an in-use span at all (allocated slot or not).
fn in_span(heap: &Heap, v: u64) -> bool {
    heap.span(v).is_some()
}

fn check_core(bin: &GoBinary, mem: &dyn Memory, t: &Truth, ctx: &str, stripped: bool, n: &mut Counts) {
    let t0 = Instant::now();
    let heap = Heap::open(bin, mem).unwrap_or_else(|e| panic!("{ctx}: {e}"));
    let took = t0.elapsed();
    let st = heap.stats();
    eprintln!(
        "{ctx}: {} via {} at {:#x}; {} spans, {} objects, {} in use / {} span bytes; {} skipped; {took:.2?}",
        heap.layout_name(),
        heap.how_found(),
        heap.mheap_addr(),
        st.spans,
        st.objects,
        st.in_use_bytes,
        st.span_bytes,
        heap.skipped_spans()
    );
    if stripped {
        assert_ne!(heap.how_found(), locate::HOW_SYMBOL, "{ctx}");
    } else {
        assert_eq!(heap.how_found(), locate::HOW_SYMBOL, "{ctx}");
    }
    assert_eq!(heap.skipped_spans(), 0, "{ctx}: {:?}", heap.warnings());
    assert!(heap.green_tea() == (minor(&t.go_version) >= 26), "{ctx}: Green Tea");
    assert_eq!(heap.objects().count() as u64, st.objects, "{ctx}");
    whole_heap(&heap, mem, ctx, n);
    n.conservative += heap.conservative_objects() as usize;

    let hdr = header_struct(t);
    let want_ptrs = header_pointer_offsets(t);
    let mut offs = Vec::new();
    for m in &t.maps {
        let Some(addr) = m.address_u64().filter(|&a| a != 0) else {
            continue;
        };
        let mctx = format!("{ctx} {}", m.name);
        if m.reach == "stack" {
            // Only a stack refers to this map; escape analysis decides per
            // version whether its header lives there or on the heap.
            match heap.find(addr) {
                None => {
                    n.stack_headers += 1;
                    continue;
                }
                Some(o) => assert_eq!(o.base, addr, "{mctx}: an escaped header is its own allocation"),
            }
        }
        let obj: Object = heap
            .find(addr)
            .unwrap_or_else(|| panic!("{mctx}: header {addr:#x} is not an allocated object"));
        assert_eq!(obj.base, addr, "{mctx}: header is its own allocation");
        assert_eq!(heap.find(addr + 9), Some(obj), "{mctx}: interior pointer");
        assert!(obj.size >= hdr.size, "{mctx}");
        assert_eq!(
            obj.size,
            heap.alloc_size(hdr.size, true),
            "{mctx}: alloc_size of a header"
        );
        assert_eq!(heap.data_start(obj), addr);
        heap.pointer_offsets(mem, obj, &mut offs).unwrap();
        assert_eq!(
            offs.iter().copied().collect::<BTreeSet<_>>(),
            want_ptrs,
            "{mctx}: header pointer words"
        );
        n.headers += 1;

        // One step further: what the header's pointer words lead to.
        if t.variant == "classic" {
            if let Some(b) = m.header_u64("buckets").filter(|&b| b != 0) {
                check_container(&heap, mem, t, m, b, &mctx, n);
            }
        } else if m.header_u64("dirLen") == Some(0) {
            if let Some(g) = m.header_u64("dirPtr").filter(|&g| g != 0) {
                check_container(&heap, mem, t, m, g, &mctx, n);
            }
        } else {
            let dir = m.header_u64("dirPtr").unwrap();
            let dobj = heap.find(dir).unwrap_or_else(|| panic!("{mctx}: directory {dir:#x}"));
            heap.pointer_offsets(mem, dobj, &mut offs).unwrap();
            let first = (dir - dobj.base) as u32;
            assert!(
                offs.contains(&first),
                "{mctx}: directory entry 0 is a pointer: {offs:?}"
            );
            let table = &t.structs["internal/runtime/maps.table"];
            let groups_off = table.fields["groups"] as u32;
            for tb in m.tables.iter().flatten() {
                let ta = tb["address"].as_str().and_then(hex_u64).unwrap();
                let tobj = heap.find(ta).unwrap_or_else(|| panic!("{mctx}: table {ta:#x}"));
                assert_eq!(tobj.base, ta, "{mctx}: table is its own allocation");
                heap.pointer_offsets(mem, tobj, &mut offs).unwrap();
                assert_eq!(offs, vec![groups_off], "{mctx}: table pointer words");
                let g = tb["groups"].as_str().and_then(hex_u64).unwrap();
                check_container(&heap, mem, t, m, g, &mctx, n);
                n.tables += 1;
            }
        }
    }
    n.cores += 1;
}

#[test]
fn every_core_heap_holds_the_truths_map_objects() {
    let t0 = Instant::now();
    let mut n = Counts::default();
    for fx in mapscope_fixtures::all().unwrap() {
        let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
        let stripped = fx.name().contains("stripped");
        assert_eq!(bin.has_symbols(), !stripped, "{}", fx.name());
        for run in fx.runs() {
            let truth = run.truth().unwrap();
            for kind in run.core_kinds().collect::<Vec<_>>() {
                let core = run.core_path(kind).unwrap().unwrap();
                let mem = CoreFile::open_with_executable(&core, fx.binary_path().unwrap()).unwrap();
                let ctx = format!("{} {} {kind}", fx.name(), run.entry.name);
                check_core(&bin, &mem, &truth, &ctx, stripped, &mut n);
            }
        }
    }
    eprintln!(
        "{} cores, {} headers ({} on stacks), {} containers ({} typed, {} of them large, {} noscan controls, {} with key pointers), {} tables; {} pointer words, {} into free slots, {} conservative objects; {:.1?}",
        n.cores,
        n.headers,
        n.stack_headers,
        n.containers,
        n.typed,
        n.large_typed,
        n.noscan_controls,
        n.pointerful,
        n.tables,
        n.pointer_words,
        n.dangling,
        n.conservative,
        t0.elapsed()
    );
    assert!(n.cores >= 18);
    assert!(n.large_typed > 0);
    // Cores are taken after a GC: a pointer word into a span's free slot
    // would be a misread bitmap (or a stale word of unswept garbage).
    assert!(
        n.dangling * 1000 < n.pointer_words,
        "{} of {}",
        n.dangling,
        n.pointer_words
    );
    assert!(n.headers > 500 && n.containers > 500 && n.typed > 50 && n.noscan_controls > 100 && n.tables > 50);
}

/// The layout table against each DWARF binary's own `runtime.mspan`,
/// `runtime.mheap` and `runtime.heapArena` (amd64 go1.19…go1.27, arm64 1.22/1.26).
#[test]
fn layout_table_matches_dwarf() {
    let mut bins: Vec<GoBinary> = Vec::new();
    for fx in mapscope_fixtures::all().unwrap() {
        if !fx.name().contains("stripped") {
            bins.push(GoBinary::open(fx.binary_path().unwrap()).unwrap());
        }
    }
    for sb in mapscope_fixtures::static_binaries().unwrap() {
        bins.push(GoBinary::open(sb.binary_path().unwrap()).unwrap());
    }
    let mut checked = 0;
    for bin in &bins {
        let v = bin.go_version().unwrap();
        let (l, _) = layout::for_build(v.minor, &bin.experiments()).unwrap();
        let ctx = format!("{} {:?}", v.raw, bin.arch());
        let ty = |name: &str| {
            bin.dwarf_type_by_name(name)
                .unwrap()
                .unwrap_or_else(|| panic!("{ctx}: DWARF has no {name}"))
        };
        let off = |t: &mapscope::binary::GoType, f: &str| t.fields().iter().find(|x| x.name == f).map(|x| x.offset);
        let span = ty("runtime.mspan");
        assert_eq!(span.size, l.span.size, "{ctx}: sizeof(mspan)");
        for (name, f) in l.span.fields() {
            assert_eq!(off(&span, name), f.map(|f| f.off), "{ctx}: mspan.{name}");
        }
        let mheap = ty("runtime.mheap");
        assert_eq!(off(&mheap, "allspans"), Some(l.mheap.allspans), "{ctx}: mheap.allspans");
        assert_eq!(
            off(&mheap, "arenas"),
            Some(l.mheap.arenas(bin.arch())),
            "{ctx}: mheap.arenas"
        );
        let arena = ty("runtime.heapArena");
        assert_eq!(off(&arena, "spans"), Some(l.arena.spans), "{ctx}: heapArena.spans");
        if l.arena.bitmap.is_some() {
            assert_eq!(off(&arena, "bitmap"), l.arena.bitmap, "{ctx}: heapArena.bitmap");
        }
        checked += 1;
    }
    assert!(checked >= 13, "{checked}");
}

/// The `.bss` scan, used when neither symbol nor code reference works,
/// finds the same `mheap_` on one core of every variant (stripped included).
#[test]
fn bss_scan_finds_the_same_mheap() {
    let mut checked = 0;
    for fx in mapscope_fixtures::all().unwrap() {
        let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
        let mem = CoreFile::open_with_executable(fx.core_path().unwrap(), fx.binary_path().unwrap()).unwrap();
        let heap = Heap::open(&bin, &mem).unwrap();
        let v = bin.go_version().unwrap();
        let (l, _) = layout::for_build(v.minor, &bin.experiments()).unwrap();
        let got = locate::by_scan(&bin, &mem, l).unwrap_or_else(|e| panic!("{}: {e}", fx.name()));
        assert_eq!(got, heap.mheap_addr(), "{}", fx.name());
        if let Some(sym) = bin.data_symbol("runtime.mheap_") {
            assert_eq!(got, sym.addr, "{}", fx.name());
        }
        checked += 1;
    }
    assert!(checked >= 13);
}

/// The `&mheap_` the code loads is the symbol's address, amd64 and arm64.
#[test]
fn code_reference_equals_the_mheap_symbol() {
    let mut checked = 0;
    let mut paths = Vec::new();
    for fx in mapscope_fixtures::all().unwrap() {
        if !fx.name().contains("stripped") {
            paths.push(fx.binary_path().unwrap());
        }
    }
    for sb in mapscope_fixtures::static_binaries().unwrap() {
        paths.push(sb.binary_path().unwrap());
    }
    for p in paths {
        let bin = GoBinary::open(&p).unwrap();
        let sym = bin.data_symbol("runtime.mheap_").unwrap().addr;
        let (got, how) = locate::by_code(&bin).unwrap();
        assert_eq!(got, sym, "{}", p.display());
        assert_eq!(how, locate::HOW_CODE);
        checked += 1;
    }
    assert!(checked >= 13);
}

#[test]
fn alloc_size_follows_mallocgc() {
    let find = |minor: u32| layout::for_build(minor, &[]).unwrap().0;
    let (l19, l22) = (find(19), find(22));
    let a = mapscope::heap::alloc_size;
    // A 48-byte hmap / maps.Map, a 56-byte 1.24 hmap.
    assert_eq!(a(l22, 48, true), 48);
    assert_eq!(a(l22, 56, true), 64);
    // Over 512 bytes with pointers: an 8-byte header from 1.22 on.
    assert_eq!(a(l19, 1024, true), 1024);
    assert_eq!(a(l22, 1024, true), 1152);
    assert_eq!(a(l22, 1024, false), 1024);
    assert_eq!(a(l22, 512, true), 512);
    // 32761..32768 with pointers are large from 1.22 on; pages beyond.
    assert_eq!(a(l19, 32768, true), 32768);
    assert_eq!(a(l22, 32760, true), 32768);
    assert_eq!(a(l22, 100_000, true), 13 * 8192);
}

/// The on-demand mask rebuild against masks the runtime or the linker made:
/// forced through the structure of every struct/array type with its own mask
/// (1.22+), and unforced for 1.24+ on-demand types the runtime had already
/// built in the core.
#[test]
fn rebuilt_gc_masks_equal_the_runtimes() {
    use mapscope::heap::gcmask;
    use mapscope::memory::MemoryExt;
    let (mut forced, mut on_demand, mut unbuilt) = (0, 0, 0);
    for fx in mapscope_fixtures::all().unwrap() {
        let bin = GoBinary::open(fx.binary_path().unwrap()).unwrap();
        let minor = bin.go_version().unwrap().minor;
        if minor < 22 {
            continue;
        }
        let mem = CoreFile::open_with_executable(fx.core_path().unwrap(), fx.binary_path().unwrap()).unwrap();
        let image: Vec<(u64, u64)> = bin.sections().iter().map(|s| (s.addr, s.addr + s.size)).collect();
        for &t in bin.runtime_types().unwrap() {
            let raw = mem.read_vec(t, 48).unwrap();
            let w = |o: usize| u64::from_le_bytes(raw[o..o + 8].try_into().unwrap());
            let (ptr_bytes, gcdata, tflag, kind) = (w(8), w(32), raw[20], raw[23]);
            if ptr_bytes == 0 || !matches!(kind & 31, 17 | 25) || kind & 0x40 != 0 {
                continue;
            }
            let words = ptr_bytes / 8;
            let mask_at = if minor >= 24 && tflag & 16 != 0 {
                let p = mem.read_u64(gcdata).unwrap();
                if p == 0 || image.iter().any(|&(lo, hi)| (lo..hi).contains(&p)) {
                    let m = gcmask::rebuild(&mem, t, false);
                    assert!(
                        m.is_some_and(|m| m.iter().any(|&b| b != 0)),
                        "{}: unbuilt {t:#x}",
                        fx.name()
                    );
                    unbuilt += 1;
                    continue;
                }
                on_demand += 1;
                p
            } else {
                forced += 1;
                gcdata
            };
            let mut want = mem.read_vec(mask_at, words.div_ceil(8)).unwrap();
            if words % 8 != 0 {
                *want.last_mut().unwrap() &= (1u8 << (words % 8)) - 1;
            }
            let got = gcmask::rebuild(&mem, t, true).unwrap_or_else(|| panic!("{}: type {t:#x}", fx.name()));
            assert_eq!(
                got,
                want,
                "{}: type {t:#x} {}",
                fx.name(),
                bin.runtime_type_name(t).unwrap_or_default()
            );
        }
    }
    eprintln!(
        "{forced} forced rebuilds, {on_demand} runtime-built on-demand masks compared, {unbuilt} unbuilt rebuilt"
    );
    assert!(forced > 500);
}
