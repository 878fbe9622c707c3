//! The runtime's heap structures on 64-bit linux targets, per Go version
//! family and experiments: the one table of these layouts in mapscope.
//!
//! Sources: `runtime/mheap.go`, `runtime/mbitmap*.go`, `runtime/malloc.go`
//! and `runtime/mgcmark_greenteagc.go` of 1.21.13, 1.22.10, 1.23.9, 1.24.11,
//! 1.25.5, 1.26.6 and 1.27.3; 1.19 from `ptype/o` of go1.19.8 (its source was
//! not at hand), 1.20 inferred from its neighbours (no 1.20 build exists here).
//! Offsets are checked against the DWARF of every DWARF fixture (amd64
//! go1.19…go1.27, arm64 go1.22 and go1.26) by `tests/heap_corpus.rs`
//! (`layout_table_matches_dwarf`), which reads `runtime.mspan`,
//! `runtime.mheap` and `runtime.heapArena` field offsets through gimli.

use crate::binary::Arch;

/// `_PageShift`: 8 KiB pages on every 64-bit linux target.
pub const PAGE_SHIFT: u32 = 13;
pub const PAGE_SIZE: u64 = 1 << PAGE_SHIFT;
/// `logHeapArenaBytes`: 64 MiB arenas.
pub const ARENA_SHIFT: u32 = 26;
pub const ARENA_BYTES: u64 = 1 << ARENA_SHIFT;
/// `arenaL2Bits` with `heapAddrBits` 48 and `arenaL1Bits` 0 (linux).
pub const ARENA_L2_BITS: u32 = 22;
pub const PAGES_PER_ARENA: u64 = ARENA_BYTES / PAGE_SIZE;
/// `maxSmallSize`.
pub const MAX_SMALL_SIZE: u64 = 32768;
/// `minSizeForMallocHeader`: objects up to this size keep their pointer bits
/// in the span (`heapBitsInSpan`), an exclusive minimum for headers.
pub const MIN_SIZE_FOR_MALLOC_HEADER: u64 = 512;
pub const MALLOC_HEADER_SIZE: u64 = 8;
/// `unsafe.Sizeof(spanInlineMarkBits{})`: the Green Tea mark bits at the end
/// of a small span, under which the heap bits move.
pub const SPAN_INLINE_MARK_BITS: u64 = 128;
/// `mSpanInUse` (`mSpanDead` 0, `mSpanManual` 2) in every version.
pub const SPAN_IN_USE: u8 = 1;

/// `class_to_size` (≤1.24) / `internal/runtime/gc.SizeClassToSize` (1.25+),
/// identical in every version 1.19–1.27.
pub const SIZE_CLASSES: [u16; 68] = [
    0, 8, 16, 24, 32, 48, 64, 80, 96, 112, 128, 144, 160, 176, 192, 208, 224, 240, 256, 288, 320, 352, 384, 416, 448,
    480, 512, 576, 640, 704, 768, 896, 1024, 1152, 1280, 1408, 1536, 1792, 2048, 2304, 2688, 3072, 3200, 3456, 4096,
    4864, 5376, 6144, 6528, 6784, 6912, 8192, 9472, 9728, 10240, 10880, 12288, 13568, 14336, 16384, 18432, 19072,
    20480, 21760, 24576, 27264, 28672, 32768,
];

/// `arenaBaseOffset`: amd64 addresses are offset so the arena index of the
/// negative half fits; arm64 (linux) uses 0.
pub fn arena_base_offset(arch: Arch) -> u64 {
    match arch {
        Arch::Amd64 => 0xffff_8000_0000_0000,
        Arch::Arm64 => 0,
    }
}

/// Where a heap object's pointer bits live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointerMap {
    /// 1.19: `heapArena.bitmap`, a nibble pair per 4 words (pointer bits low,
    /// scan bits high); scanning stops at the first word without its scan bit.
    ArenaBitmap2,
    /// 1.20–1.21, 1.22 `noallocheaders`: one bit per word in `heapArena.bitmap`.
    ArenaBitmap1,
    /// 1.22+: bits at the end of small spans, a malloc header for larger
    /// small objects, `mspan.largeType` for large ones.
    AllocHeaders,
}

/// How a type's `GCData` gives its pointer mask (1.22+ paths only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GcMask {
    /// 1.22–1.23: `GCData` is a 1-bit mask unless `Kind_ & 0x40` (a GC
    /// program; large runtime-made types are unrolled, `TFlag` 16).
    Direct,
    /// 1.24+: `TFlag & 16` (`TFlagGCMaskOnDemand`) makes `GCData` a `**byte`
    /// the runtime fills on first use.
    OnDemand,
}

/// A field: offset and width in bytes (1, 2 or 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    pub off: u64,
    pub width: u8,
}

const fn w8(off: u64) -> Field {
    Field { off, width: 8 }
}
const fn w2(off: u64) -> Field {
    Field { off, width: 2 }
}
const fn w1(off: u64) -> Field {
    Field { off, width: 1 }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MheapLayout {
    /// `allspans []*mspan`.
    pub allspans: u64,
    /// `arenas [1]*[1<<22]*heapArena`, amd64.
    pub arenas_amd64: u64,
    /// arm64 differs from 1.22 on: a `cpu.CacheLinePad` (128 bytes there)
    /// sits before `arenas`.
    pub arenas_arm64: u64,
    /// `sizeof(mheap)` on amd64 (the smallest any version has), for scans.
    pub size: u64,
}

impl MheapLayout {
    pub fn arenas(&self, arch: Arch) -> u64 {
        match arch {
            Arch::Amd64 => self.arenas_amd64,
            Arch::Arm64 => self.arenas_arm64,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArenaLayout {
    /// `bitmap`, where the pointer bits live in arenas (≤1.21, noallocheaders).
    pub bitmap: Option<u64>,
    /// `spans [8192]*mspan`.
    pub spans: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanLayout {
    pub start_addr: Field,
    pub npages: Field,
    pub freeindex: Field,
    pub nelems: Field,
    pub alloc_bits: Field,
    pub alloc_count: Field,
    pub spanclass: Field,
    /// `state mSpanStateBox` (an atomic u8 from 1.20).
    pub state: Field,
    pub elemsize: Field,
    pub large_type: Option<Field>,
    /// `specials *special`: the span's list of finalizers, cleanups, ….
    pub specials: Field,
    /// `sizeof(mspan)`: one read per span.
    pub size: u64,
}

impl SpanLayout {
    pub fn fields(&self) -> [(&'static str, Option<Field>); 11] {
        [
            ("startAddr", Some(self.start_addr)),
            ("npages", Some(self.npages)),
            ("freeindex", Some(self.freeindex)),
            ("nelems", Some(self.nelems)),
            ("allocBits", Some(self.alloc_bits)),
            ("allocCount", Some(self.alloc_count)),
            ("spanclass", Some(self.spanclass)),
            ("state", Some(self.state)),
            ("elemsize", Some(self.elemsize)),
            ("largeType", self.large_type),
            ("specials", Some(self.specials)),
        ]
    }
}

static MHEAP_119: MheapLayout = MheapLayout {
    allspans: 65856,
    arenas_amd64: 65936,
    arenas_arm64: 65936,
    size: 92672,
};
/// 1.20–1.21: `pages` moved to 8; no pad before `arenas`, so arm64 agrees.
static MHEAP_121: MheapLayout = MheapLayout {
    allspans: 65864,
    arenas_amd64: 65944,
    arenas_arm64: 65944,
    size: 92792,
};
static MHEAP_122: MheapLayout = MheapLayout {
    allspans: 65864,
    arenas_amd64: 66008,
    arenas_arm64: 66072,
    size: 92856,
};

static ARENA_119: ArenaLayout = ArenaLayout {
    bitmap: Some(0),
    spans: 2_097_152,
};
/// 1.20–1.21 and 1.22 noallocheaders (`heapArenaPtrScalar` embedded at 0).
static ARENA_121: ArenaLayout = ArenaLayout {
    bitmap: Some(0),
    spans: 1_064_960,
};
static ARENA_122: ArenaLayout = ArenaLayout { bitmap: None, spans: 0 };

static SPAN_119: SpanLayout = SpanLayout {
    start_addr: w8(24),
    npages: w8(32),
    freeindex: w8(48),
    nelems: w8(56),
    alloc_bits: w8(72),
    alloc_count: w2(96),
    spanclass: w1(98),
    state: w1(99),
    elemsize: w8(104),
    large_type: None,
    specials: w8(128),
    size: 144,
};
/// 1.20–1.21: `pinnerBits` and the wider `freeIndexForScan` shift the tail.
static SPAN_121: SpanLayout = SpanLayout {
    start_addr: w8(24),
    npages: w8(32),
    freeindex: w8(48),
    nelems: w8(56),
    alloc_bits: w8(72),
    alloc_count: w2(104),
    spanclass: w1(106),
    state: w1(107),
    elemsize: w8(112),
    large_type: None,
    specials: w8(136),
    size: 168,
};
/// 1.22+: `nelems`/`freeindex` are u16 (CL 451359); `largeType` added.
static SPAN_122: SpanLayout = SpanLayout {
    start_addr: w8(24),
    npages: w8(32),
    freeindex: w2(48),
    nelems: w2(50),
    alloc_bits: w8(64),
    alloc_count: w2(96),
    spanclass: w1(98),
    state: w1(99),
    elemsize: w8(104),
    large_type: Some(w8(152)),
    specials: w8(128),
    size: 160,
};

/// `runtime.special` and the specials whose words the GC treats as roots
/// (`markrootSpans`, `src/runtime/mgcmark.go`; kinds and structs in
/// `src/runtime/mheap.go` and `mcleanup.go` of each release).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpecialLayout {
    pub minors: (u32, u32),
    /// `special.offset`: the object's offset in its span.
    pub offset: Field,
    pub kind: Field,
    pub finalizer_kind: u8,
    /// `specialfinalizer.fn`.
    pub finalizer_fn: u64,
    /// `_KindSpecialCleanup` and the root words of a `specialCleanup`
    /// (`fn`; from 1.26 `cleanup.fn` and `cleanup.arg`).
    pub cleanup: Option<(u8, &'static [u64])>,
}

pub static SPECIALS: &[SpecialLayout] = &[
    SpecialLayout {
        minors: (19, 23),
        offset: w2(8),
        kind: w1(10),
        finalizer_kind: 1,
        finalizer_fn: 16,
        cleanup: None,
    },
    SpecialLayout {
        minors: (24, 24),
        offset: w8(8),
        kind: w1(16),
        finalizer_kind: 1,
        finalizer_fn: 24,
        cleanup: Some((6, &[24])),
    },
    SpecialLayout {
        minors: (25, 25),
        offset: w8(8),
        kind: w1(16),
        finalizer_kind: 2,
        finalizer_fn: 24,
        cleanup: Some((7, &[24])),
    },
    SpecialLayout {
        minors: (26, u32::MAX),
        offset: w8(8),
        kind: w1(16),
        finalizer_kind: 2,
        finalizer_fn: 24,
        cleanup: Some((7, &[32, 40])),
    },
];

pub fn specials_for(minor: u32) -> Option<&'static SpecialLayout> {
    SPECIALS.iter().find(|s| (s.minors.0..=s.minors.1).contains(&minor))
}

/// Which experiment setting a row needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    Any,
    /// Only with this experiment on (`noallocheaders`).
    Experiment(&'static str),
}

/// One version family's heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeapLayout {
    pub name: &'static str,
    /// Go 1.N minors covered, inclusive.
    pub minors: (u32, u32),
    pub needs: Needs,
    pub mheap: &'static MheapLayout,
    pub arena: &'static ArenaLayout,
    pub span: &'static SpanLayout,
    pub pointers: PointerMap,
    pub gc_mask: GcMask,
    /// Green Tea's inline mark bits: (first minor where the experiment exists
    /// opt-in, first minor where it is the default). `None`: not in this family.
    pub green_tea: Option<(u32, u32)>,
}

/// First match wins: experiment rows precede the plain row of their minors.
pub static LAYOUTS: &[HeapLayout] = &[
    HeapLayout {
        name: "go1.19",
        minors: (19, 19),
        needs: Needs::Any,
        mheap: &MHEAP_119,
        arena: &ARENA_119,
        span: &SPAN_119,
        pointers: PointerMap::ArenaBitmap2,
        gc_mask: GcMask::Direct,
        green_tea: None,
    },
    HeapLayout {
        name: "go1.20-1.21",
        minors: (20, 21),
        needs: Needs::Any,
        mheap: &MHEAP_121,
        arena: &ARENA_121,
        span: &SPAN_121,
        pointers: PointerMap::ArenaBitmap1,
        gc_mask: GcMask::Direct,
        green_tea: None,
    },
    HeapLayout {
        name: "go1.22 noallocheaders",
        minors: (22, 22),
        needs: Needs::Experiment("noallocheaders"),
        mheap: &MHEAP_122,
        arena: &ARENA_121,
        span: &SPAN_122,
        pointers: PointerMap::ArenaBitmap1,
        gc_mask: GcMask::Direct,
        green_tea: None,
    },
    HeapLayout {
        name: "go1.22-1.23",
        minors: (22, 23),
        needs: Needs::Any,
        mheap: &MHEAP_122,
        arena: &ARENA_122,
        span: &SPAN_122,
        pointers: PointerMap::AllocHeaders,
        gc_mask: GcMask::Direct,
        green_tea: None,
    },
    HeapLayout {
        name: "go1.24+",
        // Later minors are assumed to keep 1.27's heap until a row says otherwise.
        minors: (24, u32::MAX),
        needs: Needs::Any,
        mheap: &MHEAP_122,
        arena: &ARENA_122,
        span: &SPAN_122,
        pointers: PointerMap::AllocHeaders,
        gc_mask: GcMask::OnDemand,
        green_tea: Some((25, 26)),
    },
];

/// The row for Go 1.`minor` built with `experiments`, and whether Green Tea's
/// span layout is in force (opt-in `greenteagc`, opt-out `nogreenteagc`).
pub fn for_build(minor: u32, experiments: &[String]) -> Option<(&'static HeapLayout, bool)> {
    let has = |e: &str| experiments.iter().any(|x| x == e);
    let row = LAYOUTS.iter().find(|l| {
        (l.minors.0..=l.minors.1).contains(&minor)
            && match l.needs {
                Needs::Any => true,
                Needs::Experiment(e) => has(e),
            }
    })?;
    let green_tea = match row.green_tea {
        Some((_, default)) if minor >= default => !has("nogreenteagc"),
        Some((optin, _)) if minor >= optin => has("greenteagc"),
        _ => false,
    };
    Some((row, green_tea))
}

/// The size class `mallocgc` picks for `size` bytes (`size ≤ MAX_SMALL_SIZE`).
pub fn size_class_for(size: u64) -> Option<(u8, u64)> {
    SIZE_CLASSES
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, &c)| u64::from(c) >= size)
        .map(|(i, &c)| (i as u8, u64::from(c)))
}
