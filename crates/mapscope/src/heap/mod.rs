//! The Go heap as the runtime sees it: in-use spans from `mheap_.allspans`,
//! which of their slots are allocated, and which words of an allocated object
//! the GC treats as pointers.
//!
//! [`Heap::open`] reads every in-use span once (its `mspan` and its
//! `allocBits`) into a sorted `Vec` and one bitset over all slots, so
//! [`Heap::find`] is a binary search and [`Heap::objects`] a bitset walk; no
//! per-object state is kept. Pointer maps are read on demand, one read per
//! object: the 1.19 2-bit and 1.20–1.21 1-bit arena bitmaps, and from 1.22 the
//! allocation-header scheme (span-inline bits, malloc headers, `largeType`;
//! Green Tea's shifted span bits). Layouts per version family live in
//! [`layout::LAYOUTS`].

pub mod gcmask;
pub mod layout;
pub mod locate;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use thiserror::Error;

use crate::binary::{Arch, GoBinary};
use crate::memory::{Memory, MemoryError, MemoryExt};

use layout::{
    Field, GcMask, HeapLayout, PointerMap, ARENA_BYTES, MALLOC_HEADER_SIZE, MAX_SMALL_SIZE, MIN_SIZE_FOR_MALLOC_HEADER,
    PAGE_SIZE, SPAN_INLINE_MARK_BITS, SPAN_IN_USE,
};

/// An allocated heap object: one slot of an in-use span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Object {
    /// First byte of the slot (the malloc header, if any, is at `base`).
    pub base: u64,
    /// The slot's size: what the allocator spent (span elemsize; a large
    /// object's npages·8192).
    pub size: u64,
    /// Dense index over every slot of every in-use span, `0..slot_count()`.
    pub id: usize,
}

/// An in-use span, as [`Heap::span`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpanInfo {
    pub start: u64,
    /// npages·8192.
    pub size: u64,
    pub elemsize: u64,
    pub nelems: u32,
    /// 0 for a large-object span.
    pub sizeclass: u8,
    pub noscan: bool,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct HeapStats {
    pub spans: u64,
    pub objects: u64,
    /// Sum of the allocated objects' slot sizes.
    pub in_use_bytes: u64,
    /// Sum of the in-use spans' sizes.
    pub span_bytes: u64,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum HeapError {
    #[error("the binary has no Go version; the heap layout depends on it")]
    NoVersion,
    #[error("no heap layout for Go {version} (known: go1.19 and later)")]
    UnsupportedVersion { version: String },
    #[error("runtime.mheap_ not found: {tried}")]
    MheapNotFound { tried: String },
    #[error("reading {what} at {addr:#x}: {source}")]
    Read {
        what: &'static str,
        addr: u64,
        #[source]
        source: MemoryError,
    },
    #[error("{what} at {addr:#x} is {value:#x}; expected {expected}")]
    Implausible {
        what: &'static str,
        addr: u64,
        value: u64,
        expected: &'static str,
    },
    #[error("{addr:#x} is not the base of an allocated object of this heap")]
    NotAnObject { addr: u64 },
}

fn rd(what: &'static str, addr: u64) -> impl FnOnce(MemoryError) -> HeapError {
    move |source| HeapError::Read { what, addr, source }
}

/// An in-use span, as much of it as lookups need.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u64,
    /// npages·8192.
    bytes: u64,
    elemsize: u64,
    nelems: u32,
    /// Object id of slot 0.
    first: usize,
    spanclass: u8,
    large_type: u64,
    /// Head of `mspan.specials` (0 for most spans).
    specials: u64,
}

impl Span {
    fn noscan(&self) -> bool {
        self.spanclass & 1 != 0
    }
    fn sizeclass(&self) -> u8 {
        self.spanclass >> 1
    }
}

/// Bounds on what an `mspan` may say before it is skipped as corrupt.
const MAX_SPAN_BYTES: u64 = 1 << 40;
/// `allspans` pointers read per memory read.
const SPAN_PTR_CHUNK: u64 = 8192;
/// A corrupt (cyclic) specials list ends here.
const MAX_SPECIALS_PER_SPAN: u32 = 1 << 16;

/// What a special root is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpecialKind {
    Finalizer,
    Cleanup,
}

/// The root words a finalizer or cleanup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecialRoot {
    pub kind: SpecialKind,
    /// The object the finalizer or cleanup is attached to.
    pub object: u64,
    /// Addresses of the words the GC scans as roots.
    pub words: Vec<u64>,
}

/// Bitmap words read per memory read when walking a large object.
const BITMAP_WINDOW_WORDS: u64 = 1 << 16;
/// Warnings kept verbatim; the rest are only counted.
const MAX_WARNINGS: usize = 32;

pub struct Heap {
    layout: &'static HeapLayout,
    specials: Option<&'static layout::SpecialLayout>,
    green_tea: bool,
    arch: Arch,
    mheap: u64,
    how: &'static str,
    /// `mheap_.arenas[0]`: the L2 array of `*heapArena`.
    arenas_l2: u64,
    spans: Vec<Span>,
    alloc: Vec<u64>,
    slots: usize,
    stats: HeapStats,
    skipped_spans: u64,
    warnings: Vec<String>,
    /// `&runtime.inProgress` when known: the on-demand GC mask sentinel.
    in_progress: Option<u64>,
    /// The executable's sections: an on-demand mask pointer into them is the
    /// sentinel (stripped binaries have no `runtime.inProgress` symbol).
    image: Vec<(u64, u64)>,
    conservative: AtomicU64,
    /// Masks rebuilt for on-demand types whose slot was still empty, by type.
    rebuilt: Mutex<HashMap<u64, Option<Arc<[u8]>>>>,
}

impl std::fmt::Debug for Heap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Heap")
            .field("layout", &self.layout.name)
            .field("green_tea", &self.green_tea)
            .field("mheap", &format_args!("{:#x}", self.mheap))
            .field("how", &self.how)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// One `mspan`, read and checked, before sorting.
struct RawSpan {
    span: Span,
    freeindex: u64,
    alloc_bits: u64,
}

fn field(buf: &[u8], f: Field) -> Option<u64> {
    let o = usize::try_from(f.off).ok()?;
    let b = buf.get(o..o.checked_add(usize::from(f.width))?)?;
    let mut w = [0u8; 8];
    w.get_mut(..b.len())?.copy_from_slice(b);
    Some(u64::from_le_bytes(w))
}

impl Heap {
    /// Finds `runtime.mheap_` (the symbol if present; else the code reference
    /// in `runtime.allocmcache.func1`; else a structural scan of `.bss`; each
    /// checked against the heap), reads `allspans` and keeps every span with
    /// `state == mSpanInUse`. Spans that make no sense are skipped and counted
    /// ([`Heap::warnings`]).
    pub fn open(bin: &GoBinary, mem: &dyn Memory) -> Result<Heap, HeapError> {
        let v = bin.go_version().ok_or(HeapError::NoVersion)?;
        let exps = bin.experiments();
        let (layout, green_tea) = if v.major == 1 {
            layout::for_build(v.minor, &exps)
        } else {
            None
        }
        .ok_or_else(|| HeapError::UnsupportedVersion { version: v.raw.clone() })?;
        let arch = bin.arch();
        let (mheap, how) = find_mheap(bin, mem, layout)?;
        let arenas_at = mheap.wrapping_add(layout.mheap.arenas(arch));
        let arenas_l2 = mem.read_u64(arenas_at).map_err(rd("mheap_.arenas[0]", arenas_at))?;

        let mut heap = Heap {
            layout,
            specials: layout::specials_for(v.minor),
            green_tea,
            arch,
            mheap,
            how,
            arenas_l2,
            spans: Vec::new(),
            alloc: Vec::new(),
            slots: 0,
            stats: HeapStats::default(),
            skipped_spans: 0,
            warnings: Vec::new(),
            in_progress: bin.data_symbol("runtime.inProgress").map(|s| s.addr),
            image: bin
                .sections()
                .iter()
                .filter(|s| s.addr != 0)
                .map(|s| (s.addr, s.addr.saturating_add(s.size)))
                .collect(),
            conservative: AtomicU64::new(0),
            rebuilt: Mutex::new(HashMap::new()),
        };
        let raw = heap.read_spans(mem)?;
        heap.index(mem, raw);
        Ok(heap)
    }

    fn warn(&mut self, w: String) {
        if self.warnings.len() < MAX_WARNINGS {
            self.warnings.push(w);
        }
    }

    fn read_spans(&mut self, mem: &dyn Memory) -> Result<Vec<RawSpan>, HeapError> {
        let at = self.mheap.wrapping_add(self.layout.mheap.allspans);
        let ptr = mem.read_u64(at).map_err(rd("mheap_.allspans.ptr", at))?;
        let len = mem
            .read_u64(at.wrapping_add(8))
            .map_err(rd("mheap_.allspans.len", at))?;
        if len > locate::MAX_SPANS {
            return Err(HeapError::Implausible {
                what: "mheap_.allspans.len",
                addr: at.wrapping_add(8),
                value: len,
                expected: "at most 2^25 spans",
            });
        }
        let sl = self.layout.span;
        let mut buf = vec![0u8; usize::try_from(sl.size).unwrap_or(0)];
        let mut out = Vec::new();
        let mut ptrs = Vec::new();
        let mut i = 0;
        while i < len {
            let n = (len - i).min(SPAN_PTR_CHUNK);
            let a = ptr.wrapping_add(i * 8);
            ptrs.clear();
            match mem.read_vec(a, n * 8) {
                Ok(b) => ptrs.extend(
                    b.chunks_exact(8)
                        .map(|c| <[u8; 8]>::try_from(c).map_or(0, u64::from_le_bytes)),
                ),
                Err(e) => {
                    // Later chunks may still be readable: partial beats none.
                    self.skipped_spans += n;
                    self.warn(format!("allspans[{i}..{}] at {a:#x} unreadable: {e}", i + n));
                }
            }
            i += n;
            for &sp in &ptrs {
                if sp == 0 {
                    continue;
                }
                if let Err(e) = mem.read(sp, &mut buf) {
                    self.skipped_spans += 1;
                    self.warn(format!("mspan {sp:#x} unreadable: {e}"));
                    continue;
                }
                let f = |x: Field| field(&buf, x).unwrap_or(0);
                if f(sl.state) != u64::from(SPAN_IN_USE) {
                    continue;
                }
                match check_span(&buf, sl) {
                    Ok(r) => out.push(r),
                    Err(why) => {
                        self.skipped_spans += 1;
                        self.warn(format!("mspan {sp:#x} skipped: {why}"));
                    }
                }
            }
        }
        Ok(out)
    }

    fn index(&mut self, mem: &dyn Memory, mut raw: Vec<RawSpan>) {
        raw.sort_unstable_by_key(|r| r.span.start);
        let mut kept: Vec<RawSpan> = Vec::with_capacity(raw.len());
        for r in raw {
            if let Some(prev) = kept.last() {
                if r.span.start < prev.span.start.saturating_add(prev.span.bytes) {
                    self.skipped_spans += 1;
                    self.warn(format!(
                        "span at {:#x} overlaps the span at {:#x}; skipped",
                        r.span.start, prev.span.start
                    ));
                    continue;
                }
            }
            kept.push(r);
        }
        let slots: usize = kept.iter().map(|r| r.span.nelems as usize).sum();
        self.alloc = vec![0u64; slots.div_ceil(64)];
        self.spans.reserve_exact(kept.len());
        let mut first = 0usize;
        let mut bits = Vec::new();
        for mut r in kept {
            r.span.first = first;
            let n = u64::from(r.span.nelems);
            bits.clear();
            if let Err(e) = mem.read_vec(r.alloc_bits, n.div_ceil(8)).map(|b| bits.extend(b)) {
                self.warn(format!(
                    "allocBits of the span at {:#x} unreadable ({e}); only slots below freeindex count",
                    r.span.start
                ));
            }
            let mut count = 0u64;
            for i in 0..n {
                let set = i < r.freeindex
                    || bits
                        .get(usize::try_from(i / 8).unwrap_or(usize::MAX))
                        .is_some_and(|b| b >> (i % 8) & 1 != 0);
                if set {
                    let id = first + i as usize;
                    if let Some(w) = self.alloc.get_mut(id / 64) {
                        *w |= 1 << (id % 64);
                    }
                    count += 1;
                }
            }
            self.stats.spans += 1;
            self.stats.objects += count;
            self.stats.in_use_bytes += count * r.span.elemsize;
            self.stats.span_bytes += r.span.bytes;
            first += r.span.nelems as usize;
            self.spans.push(r.span);
        }
        self.slots = first;
    }

    pub fn mheap_addr(&self) -> u64 {
        self.mheap
    }

    /// `"symbol runtime.mheap_"`, `"code reference in runtime.allocmcache.func1"`
    /// (or another function of [`locate`]'s list) or `"structural scan of .bss"`.
    pub fn how_found(&self) -> &'static str {
        self.how
    }

    /// Name of the layout row in force (`go1.24+`, …).
    pub fn layout_name(&self) -> &'static str {
        self.layout.name
    }

    /// Whether Green Tea's span layout (heap bits 128 bytes lower) is in force.
    pub fn green_tea(&self) -> bool {
        self.green_tea
    }

    pub fn slot_count(&self) -> usize {
        self.slots
    }

    pub fn stats(&self) -> HeapStats {
        self.stats.clone()
    }

    /// In-use spans left out because their `mspan` was unreadable or absurd.
    pub fn skipped_spans(&self) -> u64 {
        self.skipped_spans
    }

    /// The first few reasons for skipped spans and unreadable bits.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// How many [`Heap::pointer_offsets`] calls so far fell back to treating
    /// every word of a type's pointer prefix as a pointer, because its mask was
    /// a GC program (≤1.23) or an on-demand mask (1.24+) neither built by the
    /// runtime nor rebuildable from the type.
    pub fn conservative_objects(&self) -> u64 {
        self.conservative.load(Ordering::Relaxed)
    }

    fn is_alloc(&self, id: usize) -> bool {
        self.alloc.get(id / 64).is_some_and(|w| w >> (id % 64) & 1 != 0)
    }

    fn span_of(&self, addr: u64) -> Option<&Span> {
        let i = self.spans.partition_point(|s| s.start <= addr).checked_sub(1)?;
        let s = self.spans.get(i)?;
        (addr - s.start < s.bytes).then_some(s)
    }

    /// The in-use span containing `addr`, whether or not its slot there is
    /// allocated (a pointer into a free slot or a span's tail lands here but
    /// not in [`Heap::find`]).
    pub fn span(&self, addr: u64) -> Option<SpanInfo> {
        self.span_of(addr).map(|s| SpanInfo {
            start: s.start,
            size: s.bytes,
            elemsize: s.elemsize,
            nelems: s.nelems,
            sizeclass: s.sizeclass(),
            noscan: s.noscan(),
        })
    }

    /// The allocated object whose slot contains `addr` (interior pointers map
    /// to their object). `None`: not in an in-use span, a free slot, or the
    /// tail of a span past its last slot. Manual spans (stacks) are never
    /// in-use spans.
    pub fn find(&self, addr: u64) -> Option<Object> {
        let s = self.span_of(addr)?;
        let idx = (addr - s.start) / s.elemsize;
        if idx >= u64::from(s.nelems) {
            return None;
        }
        let id = s.first + idx as usize;
        self.is_alloc(id).then_some(Object {
            base: s.start + idx * s.elemsize,
            size: s.elemsize,
            id,
        })
    }

    /// The finalizers and cleanups attached to objects (`mspan.specials`):
    /// roots of the GC's own (`markrootSpans`). A finalized object's words
    /// are roots, not the object; a cleanup's function and argument are.
    pub fn special_roots(&self, mem: &dyn Memory) -> Vec<SpecialRoot> {
        let Some(l) = self.specials else { return Vec::new() };
        let mut out = Vec::new();
        let mut offs = Vec::new();
        for span in self.spans.iter().filter(|s| s.specials != 0) {
            let mut p = span.specials;
            let mut seen = 0u32;
            while p != 0 && seen < MAX_SPECIALS_PER_SPAN {
                seen += 1;
                let mut buf = [0u8; 24];
                if mem.read(p, &mut buf).is_err() {
                    break;
                }
                let kind = field(&buf, l.kind).unwrap_or(0) as u8;
                let offset = field(&buf, l.offset).unwrap_or(0);
                let object = span.start.wrapping_add(offset);
                if kind == l.finalizer_kind {
                    let mut words = vec![p.wrapping_add(l.finalizer_fn)];
                    if let Some(o) = self.find(object) {
                        offs.clear();
                        if self.pointer_offsets(mem, o, &mut offs).is_ok() {
                            words.extend(offs.iter().map(|&x| o.base + u64::from(x)));
                        }
                    }
                    out.push(SpecialRoot {
                        kind: SpecialKind::Finalizer,
                        object,
                        words,
                    });
                } else if let Some((_, fields)) = l.cleanup.filter(|(k, _)| *k == kind) {
                    out.push(SpecialRoot {
                        kind: SpecialKind::Cleanup,
                        object,
                        words: fields.iter().map(|&f| p.wrapping_add(f)).collect(),
                    });
                }
                p = field(&buf, Field { off: 0, width: 8 }).unwrap_or(0);
            }
        }
        out
    }

    /// The slot with this id (allocated or not), for walks that keep ids
    /// rather than objects.
    pub fn object_by_id(&self, id: usize) -> Option<Object> {
        let i = self.spans.partition_point(|s| s.first <= id);
        let s = self.spans.get(i.checked_sub(1)?)?;
        let idx = id - s.first;
        (idx < s.nelems as usize).then(|| Object {
            base: s.start + idx as u64 * s.elemsize,
            size: s.elemsize,
            id,
        })
    }

    /// Every allocated object, span by span, ascending.
    pub fn objects(&self) -> impl Iterator<Item = Object> + '_ {
        self.spans.iter().flat_map(move |s| {
            (0..s.nelems).filter_map(move |i| {
                let id = s.first + i as usize;
                self.is_alloc(id).then_some(Object {
                    base: s.start + u64::from(i) * s.elemsize,
                    size: s.elemsize,
                    id,
                })
            })
        })
    }

    fn span_for(&self, obj: Object) -> Result<&Span, HeapError> {
        self.span_of(obj.base)
            .filter(|s| (obj.base - s.start) % s.elemsize == 0 && s.elemsize == obj.size)
            .ok_or(HeapError::NotAnObject { addr: obj.base })
    }

    /// Whether objects of this span start with an 8-byte malloc header.
    fn has_header(&self, s: &Span) -> bool {
        self.layout.pointers == PointerMap::AllocHeaders
            && !s.noscan()
            && s.sizeclass() != 0
            && s.elemsize > MIN_SIZE_FOR_MALLOC_HEADER
    }

    /// Where the object's data starts: `base + 8` when it has a malloc header.
    pub fn data_start(&self, obj: Object) -> u64 {
        match self.span_of(obj.base) {
            Some(s) if self.has_header(s) => obj.base + MALLOC_HEADER_SIZE,
            _ => obj.base,
        }
    }

    /// 1.22+: the `*abi.Type` of the object's element, from its malloc header
    /// or `mspan.largeType`. For 1.22–1.23 large objects of GC-program types
    /// this is the runtime-made stand-in type (`TFlag` 16, `Kind_` 0) that
    /// carries the unrolled mask, not the program's own type.
    pub fn type_of(&self, mem: &dyn Memory, obj: Object) -> Option<u64> {
        if self.layout.pointers != PointerMap::AllocHeaders {
            return None;
        }
        let s = self.span_for(obj).ok()?;
        let t = if s.noscan() {
            return None;
        } else if s.sizeclass() == 0 {
            s.large_type
        } else if self.has_header(s) {
            mem.read_u64(obj.base).ok()?
        } else {
            return None;
        };
        (t != 0).then_some(t)
    }

    /// Byte offsets (from `obj.base`) of the words of `obj` the GC treats as
    /// pointers, ascending; empty for noscan spans. Never includes the malloc
    /// header word. Where the type's mask is unavailable (a GC program, an
    /// on-demand mask not yet built) every word of each element's pointer
    /// prefix is reported, and [`Heap::conservative_objects`] counts it.
    pub fn pointer_offsets(&self, mem: &dyn Memory, obj: Object, out: &mut Vec<u32>) -> Result<(), HeapError> {
        out.clear();
        let s = *self.span_for(obj)?;
        if s.noscan() {
            return Ok(());
        }
        if obj.size > u64::from(u32::MAX) {
            return Err(HeapError::Implausible {
                what: "object size",
                addr: obj.base,
                value: obj.size,
                expected: "below 4 GiB (offsets are u32)",
            });
        }
        match self.layout.pointers {
            PointerMap::ArenaBitmap1 | PointerMap::ArenaBitmap2 => self.arena_bits(mem, obj, out),
            PointerMap::AllocHeaders if s.elemsize <= MIN_SIZE_FOR_MALLOC_HEADER => self.span_bits(mem, &s, obj, out),
            PointerMap::AllocHeaders => self.typed_bits(mem, &s, obj, out),
        }
    }

    /// ≤1.21 (and noallocheaders): bits in `heapArena.bitmap`, one arena at a
    /// time (large objects may span several), a window of words per read.
    fn arena_bits(&self, mem: &dyn Memory, obj: Object, out: &mut Vec<u32>) -> Result<(), HeapError> {
        let bitmap_off = self.layout.arena.bitmap.unwrap_or(0);
        let two_bit = self.layout.pointers == PointerMap::ArenaBitmap2;
        let words_per_arena = ARENA_BYTES / 8;
        let end = obj.base.saturating_add(obj.size);
        let mut a = obj.base;
        let mut buf = Vec::new();
        while a < end {
            let arena_end = (a & !(ARENA_BYTES - 1)).saturating_add(ARENA_BYTES);
            let chunk_end = end.min(arena_end).min(a.saturating_add(BITMAP_WINDOW_WORDS * 8));
            let ha = locate::arena_of(mem, self.arenas_l2, self.arch, a).ok_or(HeapError::Implausible {
                what: "mheap_.arenas entry",
                addr: a,
                value: 0,
                expected: "a heapArena for an in-use span",
            })?;
            let w0 = (a / 8) % words_per_arena;
            let nw = (chunk_end - a) / 8;
            // 4 words per byte (2-bit) or 64 per u64 (1-bit), from the unit holding w0.
            let (first, len) = if two_bit {
                (w0 / 4, (w0 + nw).div_ceil(4) - w0 / 4)
            } else {
                ((w0 / 64) * 8, ((w0 + nw).div_ceil(64) - w0 / 64) * 8)
            };
            let at = ha.wrapping_add(bitmap_off).wrapping_add(first);
            buf.resize(usize::try_from(len).unwrap_or(0), 0);
            mem.read(at, &mut buf).map_err(rd("heapArena.bitmap", at))?;
            for k in 0..nw {
                let w = w0 + k;
                let (ptr, more) = if two_bit {
                    let byte = buf
                        .get(usize::try_from(w / 4 - w0 / 4).unwrap_or(usize::MAX))
                        .copied()
                        .unwrap_or(0);
                    let sh = w % 4;
                    (byte >> sh & 1 != 0, byte >> (sh + 4) & 1 != 0)
                } else {
                    let i = w / 8 - (w0 / 64) * 8;
                    let byte = buf.get(usize::try_from(i).unwrap_or(usize::MAX)).copied().unwrap_or(0);
                    (byte >> (w % 8) & 1 != 0, true)
                };
                if !more {
                    // 1.19 scanobject: no scan bit, no more pointers in this object.
                    return Ok(());
                }
                if ptr {
                    out.push((a - obj.base + k * 8) as u32);
                }
            }
            a = chunk_end;
        }
        Ok(())
    }

    /// 1.22+ `heapBitsInSpan`: one bit per word of the span at its end
    /// (`spanHeapBitsRange`), 128 bytes lower under Green Tea for
    /// 16 ≤ elemsize ≤ 512 (`gcUsesSpanInlineMarkBits`).
    fn span_bits(&self, mem: &dyn Memory, s: &Span, obj: Object, out: &mut Vec<u32>) -> Result<(), HeapError> {
        let mut bm = s.start + s.bytes - s.bytes / 64;
        if self.green_tea && s.elemsize >= 16 {
            bm -= SPAN_INLINE_MARK_BITS;
        }
        let i0 = (obj.base - s.start) / 8;
        let n = obj.size / 8;
        let first = i0 / 64;
        let words = (i0 + n).div_ceil(64) - first;
        let at = bm + first * 8;
        // n ≤ 64, so at most two words.
        let mut buf = [0u8; 16];
        let b = buf
            .get_mut(..usize::try_from(words * 8).unwrap_or(0).min(16))
            .unwrap_or_default();
        mem.read(at, b).map_err(rd("span heap bits", at))?;
        let w = |k: u64| {
            let o = usize::try_from(k * 8).unwrap_or(usize::MAX);
            b.get(o..o + 8)
                .and_then(|x| <[u8; 8]>::try_from(x).ok())
                .map_or(0, u64::from_le_bytes)
        };
        for k in 0..n {
            let i = i0 + k;
            if w(i / 64 - first) >> (i % 64) & 1 != 0 {
                out.push((k * 8) as u32);
            }
        }
        Ok(())
    }

    /// 1.22+ objects with a type: the header's or `largeType`'s mask covers
    /// one element; repeat it every `Size_` bytes to the end of the slot
    /// (`typePointers.next`).
    fn typed_bits(&self, mem: &dyn Memory, s: &Span, obj: Object, out: &mut Vec<u32>) -> Result<(), HeapError> {
        let (typ, data) = if s.sizeclass() == 0 {
            (s.large_type, obj.base)
        } else {
            let t = mem.read_u64(obj.base).map_err(rd("malloc header", obj.base))?;
            (t, obj.base + MALLOC_HEADER_SIZE)
        };
        if typ == 0 {
            // Mid-allocation (delayed zeroing): the runtime skips it too.
            return Ok(());
        }
        let mut t = [0u8; 48];
        mem.read(typ, &mut t).map_err(rd("abi.Type of a heap object", typ))?;
        let word = |o: usize| {
            t.get(o..o + 8)
                .and_then(|x| <[u8; 8]>::try_from(x).ok())
                .map_or(0, u64::from_le_bytes)
        };
        let (size, ptr_bytes, gcdata) = (word(0), word(8), word(32));
        let tflag = t.get(20).copied().unwrap_or(0);
        let kind = t.get(23).copied().unwrap_or(0);
        let end = obj.base + obj.size;
        if size == 0 || ptr_bytes > size || ptr_bytes % 8 != 0 || ptr_bytes > end - data {
            return Err(HeapError::Implausible {
                what: "abi.Type.PtrBytes",
                addr: typ,
                value: ptr_bytes,
                expected: "a multiple of 8 within Size_ and the object",
            });
        }
        if ptr_bytes == 0 {
            return Ok(());
        }
        let words = ptr_bytes / 8;
        let mask_at = match self.layout.gc_mask {
            GcMask::Direct if kind & 0x40 != 0 && tflag & 16 == 0 => None,
            GcMask::Direct => Some(gcdata),
            GcMask::OnDemand if tflag & 16 != 0 => {
                let p = mem.read_u64(gcdata).map_err(rd("on-demand GC mask slot", gcdata))?;
                let sentinel = self.in_progress == Some(p) || self.image.iter().any(|&(lo, hi)| (lo..hi).contains(&p));
                (p != 0 && !sentinel).then_some(p)
            }
            GcMask::OnDemand => Some(gcdata),
        };
        let mask: Option<Arc<[u8]>> = match mask_at {
            Some(at) => Some(mem.read_vec(at, words.div_ceil(8)).map_err(rd("GC mask", at))?.into()),
            None if self.layout.gc_mask == GcMask::OnDemand => self.rebuilt_mask(mem, typ),
            None => None,
        };
        if mask.is_none() {
            self.conservative.fetch_add(1, Ordering::Relaxed);
        }
        let mut elem = data;
        while elem < end {
            let limit = (end - elem) / 8;
            match mask.as_deref() {
                Some(m) => {
                    for (bi, &byte) in m.iter().enumerate() {
                        let mut b = byte;
                        while b != 0 {
                            let j = bi as u64 * 8 + u64::from(b.trailing_zeros());
                            b &= b - 1;
                            if j >= words || j >= limit {
                                break;
                            }
                            out.push((elem - obj.base + j * 8) as u32);
                        }
                    }
                }
                None => out.extend((0..words.min(limit)).map(|j| (elem - obj.base + j * 8) as u32)),
            }
            elem = elem.saturating_add(size);
        }
        Ok(())
    }

    /// The mask `buildGCMask` would make for an on-demand type, once per type.
    fn rebuilt_mask(&self, mem: &dyn Memory, typ: u64) -> Option<Arc<[u8]>> {
        if let Some(m) = self.rebuilt.lock().ok()?.get(&typ) {
            return m.clone();
        }
        let m: Option<Arc<[u8]>> = gcmask::rebuild(mem, typ, false).map(Into::into);
        self.rebuilt.lock().ok()?.insert(typ, m.clone());
        m
    }

    /// What `mallocgc` spends for `size` bytes: the size class (after adding
    /// the 1.22+ malloc header for pointerful objects over 512 bytes), or
    /// whole pages for large objects. Requests under 16 bytes without
    /// pointers share 16-byte tiny blocks in reality; this reports their class.
    pub fn alloc_size(&self, size: u64, has_pointers: bool) -> u64 {
        alloc_size(self.layout, size, has_pointers)
    }
}

/// [`Heap::alloc_size`] for a layout, without a heap.
pub fn alloc_size(l: &HeapLayout, size: u64, has_pointers: bool) -> u64 {
    if size == 0 {
        return 0;
    }
    let headers = l.pointers == PointerMap::AllocHeaders;
    let small_max = if headers {
        MAX_SMALL_SIZE - MALLOC_HEADER_SIZE
    } else {
        MAX_SMALL_SIZE
    };
    if size <= small_max {
        let with_header = if headers && has_pointers && size > MIN_SIZE_FOR_MALLOC_HEADER {
            size + MALLOC_HEADER_SIZE
        } else {
            size
        };
        if let Some((_, c)) = layout::size_class_for(with_header) {
            return c;
        }
    }
    size.div_ceil(PAGE_SIZE).saturating_mul(PAGE_SIZE)
}

fn check_span(buf: &[u8], sl: &layout::SpanLayout) -> Result<RawSpan, String> {
    let f = |x: Field| field(buf, x).unwrap_or(0);
    let start = f(sl.start_addr);
    let npages = f(sl.npages);
    let elemsize = f(sl.elemsize);
    let nelems = f(sl.nelems);
    let freeindex = f(sl.freeindex);
    let spanclass = u8::try_from(f(sl.spanclass)).unwrap_or(u8::MAX);
    let bytes = npages.saturating_mul(PAGE_SIZE);
    if start == 0 || start % PAGE_SIZE != 0 {
        return Err(format!("startAddr {start:#x} is not page-aligned"));
    }
    if npages == 0 || bytes > MAX_SPAN_BYTES || start.checked_add(bytes).is_none() {
        return Err(format!("npages {npages}"));
    }
    if elemsize == 0 || nelems == 0 || nelems.saturating_mul(elemsize) > bytes || freeindex > nelems {
        return Err(format!(
            "elemsize {elemsize}, nelems {nelems}, freeindex {freeindex} do not fit {npages} pages"
        ));
    }
    if spanclass >> 1 == 0 && nelems != 1 {
        return Err(format!("a large-object span with nelems {nelems}"));
    }
    if spanclass >> 1 != 0 && (spanclass >> 1 >= 68 || elemsize > MAX_SMALL_SIZE) {
        return Err(format!("spanclass {spanclass} with elemsize {elemsize}"));
    }
    Ok(RawSpan {
        span: Span {
            start,
            bytes,
            elemsize,
            nelems: u32::try_from(nelems).map_err(|_| format!("nelems {nelems}"))?,
            first: 0,
            spanclass,
            large_type: sl.large_type.map_or(0, f),
            specials: f(sl.specials),
        },
        freeindex,
        alloc_bits: f(sl.alloc_bits),
    })
}

fn find_mheap(bin: &GoBinary, mem: &dyn Memory, l: &HeapLayout) -> Result<(u64, &'static str), HeapError> {
    let arch = bin.arch();
    let mut tried = Vec::new();
    if let Some(sym) = bin.data_symbol("runtime.mheap_") {
        match locate::validate(mem, l, arch, sym.addr) {
            Ok(_) => return Ok((sym.addr, locate::HOW_SYMBOL)),
            Err(e) => tried.push(format!("symbol at {:#x}: {e}", sym.addr)),
        }
    } else {
        tried.push("no symbol (stripped)".to_string());
    }
    match locate::by_code(bin) {
        Some((x, how)) => match locate::validate(mem, l, arch, x) {
            Ok(_) => return Ok((x, how)),
            Err(e) => tried.push(format!("code reference {x:#x}: {e}")),
        },
        None => tried.push("no PC-relative reference in runtime.allocmcache.func1 and friends".to_string()),
    }
    match locate::by_scan(bin, mem, l) {
        Ok(x) => Ok((x, locate::HOW_SCAN)),
        Err(e) => {
            tried.push(format!(".bss scan: {e}"));
            Err(HeapError::MheapNotFound {
                tried: tried.join("; "),
            })
        }
    }
}
