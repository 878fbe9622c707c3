//! The reachability walk: breadth-first from every root over the heap's
//! pointer words, so the first parent recorded for an object lies on a
//! shortest chain of references from a root.
//!
//! Memory is the constraint on big cores: per heap slot the walk keeps one
//! parent record, never a struct per object, and object bytes are read in
//! bounded chunks. Each BFS level is scanned in address order, so a mapped
//! core is read front to back once per level rather than at random, and the
//! pages behind can be handed back without being needed again that level.

use std::collections::HashMap;

use crate::heap::{Heap, Object};
use crate::memory::{Memory, MemoryExt};
use crate::roots::Roots;

/// Largest piece of an object read at once; a 100 MB bucket array is scanned
/// in pieces of this size.
const CHUNK: u64 = 256 << 10;
/// Objects scanned between looks at how many of a mapped core's pages are
/// resident (see [`Residency`]).
const CHECK_EVERY: u64 = 1024;

/// Keeps the process's resident memory under a budget (a fifth of the heap
/// being read, at least 64 MiB): a mapped core would otherwise hold the
/// whole heap resident. Resident and file-backed pages are read from
/// `/proc/self/statm` (a cheap read, done every so often) and the core's
/// pages are handed back with `Memory::release_cache` when over budget; hot
/// pages fault back in.
pub struct Residency {
    budget_pages: u64,
}

impl Residency {
    pub fn new(heap_bytes: u64) -> Self {
        Residency {
            budget_pages: (heap_bytes / 5).max(64 << 20) / 4096,
        }
    }

    pub fn check(&self, mem: &dyn Memory) {
        let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
            return;
        };
        // size resident shared(file-backed) ...
        let mut fields = statm.split_whitespace().skip(1).map(|v| v.parse::<u64>().ok());
        let (Some(Some(resident)), Some(Some(shared))) = (fields.next(), fields.next()) else {
            return;
        };
        // Below 4 MiB of file pages there is nothing worth handing back.
        if resident > self.budget_pages && shared > 1024 {
            mem.release_cache();
        }
    }
}

/// Where a root pointer word sits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSlotKind {
    /// A pointer word of .data or .bss.
    Global,
    /// A live pointer slot of a goroutine's frame (`goroutine`, `frame` index
    /// into [`Roots::goroutines`] and its frames).
    Frame { goroutine: u32, frame: u32 },
    /// A pointer word inside a stack object of a frame.
    StackObject { goroutine: u32, frame: u32, object: u32 },
    /// A word a finalizer or cleanup keeps alive (`Heap::special_roots`).
    Special { index: u32 },
}

#[derive(Debug, Clone, Copy)]
pub struct RootSlot {
    /// Address of the pointer word itself.
    pub addr: u64,
    pub kind: RootSlotKind,
}

/// The edge by which the walk first reached an object: 8 bytes per heap
/// slot, the walk's main cost in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Link {
    /// A heap object id, or `NO_PARENT`, or `root_base + root slot index`.
    from: u32,
    /// Offset of the pointer word in the parent object (0 for a root).
    word_off: u32,
}

/// A resolved [`Link`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parent {
    /// A heap object id, or `root_base + root slot index`.
    pub from: u32,
    /// Address of the pointer word in the parent (or the root slot).
    pub word: u64,
}

pub const NO_PARENT: u32 = u32::MAX;

pub struct Walk {
    pub roots: Vec<RootSlot>,
    /// Indexed by heap object id; `from == NO_PARENT` when unreached.
    links: Vec<Link>,
    /// Node ids at and above this are root slots (`id - root_base`).
    pub root_base: u32,
    /// Extra references to objects of the map-header size class beyond the
    /// first: a map found twice is one map with more owners.
    pub extra_refs: HashMap<usize, u32>,
    pub reached_objects: u64,
    pub reached_bytes: u64,
    /// Objects whose pointer words could not be read (wild spans, torn cores).
    pub unreadable: u64,
    pub first_error: Option<String>,
}

impl Walk {
    pub fn is_reached(&self, id: usize) -> bool {
        self.links.get(id).is_some_and(|p| p.from != NO_PARENT)
    }

    pub fn parent(&self, heap: &Heap, id: usize) -> Option<Parent> {
        let l = self.links.get(id).copied().filter(|p| p.from != NO_PARENT)?;
        let word = match self.root(l.from) {
            Some(r) => r.addr,
            None => heap.object_by_id(l.from as usize)?.base + u64::from(l.word_off),
        };
        Some(Parent { from: l.from, word })
    }

    pub fn root(&self, node: u32) -> Option<&RootSlot> {
        node.checked_sub(self.root_base)
            .and_then(|i| self.roots.get(i as usize))
    }
}

/// Every root word, in the order roots are preferred for owner paths:
/// globals first, then goroutines in allgs order, frames innermost first.
pub fn root_slots(roots: &Roots, specials: &[crate::heap::SpecialRoot]) -> Vec<RootSlot> {
    let mut out: Vec<RootSlot> = roots
        .global_slots
        .iter()
        .map(|&addr| RootSlot {
            addr,
            kind: RootSlotKind::Global,
        })
        .collect();
    for (gi, g) in roots.goroutines.iter().enumerate() {
        for (fi, f) in g.frames.iter().enumerate() {
            let (goroutine, frame) = (gi as u32, fi as u32);
            out.extend(f.pointer_slots.iter().map(|&addr| RootSlot {
                addr,
                kind: RootSlotKind::Frame { goroutine, frame },
            }));
            for (oi, o) in f.stack_objects.iter().enumerate() {
                out.extend(o.pointer_offsets.iter().map(|&off| RootSlot {
                    addr: o.addr.wrapping_add(u64::from(off)),
                    kind: RootSlotKind::StackObject {
                        goroutine,
                        frame,
                        object: oi as u32,
                    },
                }));
            }
        }
    }
    for (i, sp) in specials.iter().enumerate() {
        out.extend(sp.words.iter().map(|&addr| RootSlot {
            addr,
            kind: RootSlotKind::Special { index: i as u32 },
        }));
    }
    out
}

/// Walks the heap from `roots`. `is_header_size` says which object sizes can
/// be map headers, whose extra references are counted.
pub fn walk(heap: &Heap, mem: &dyn Memory, roots: Vec<RootSlot>, is_header_size: &dyn Fn(u64) -> bool) -> Walk {
    let slots = heap.slot_count();
    let root_base = u32::try_from(slots).unwrap_or(u32::MAX - 1);
    let mut w = Walk {
        links: vec![
            Link {
                from: NO_PARENT,
                word_off: 0,
            };
            slots
        ],
        roots,
        root_base,
        extra_refs: HashMap::new(),
        reached_objects: 0,
        reached_bytes: 0,
        unreadable: 0,
        first_error: None,
    };
    // Each queued object carries its chain's root class (0: a global, 1: a
    // stack), so that between chains of equal length the global one wins,
    // as it would in a walk that took roots in order.
    let mut queue: Vec<(u8, Object)> = Vec::new();
    let reach = |w: &mut Walk, queue: &mut Vec<(u8, Object)>, class: u8, from: u32, word_off: u32, value: u64| {
        let Some(obj) = heap.find(value) else { return };
        let Some(p) = w.links.get_mut(obj.id) else { return };
        if p.from != NO_PARENT {
            if is_header_size(obj.size) && value == obj.base {
                *w.extra_refs.entry(obj.id).or_insert(0) += 1;
            }
            return;
        }
        *p = Link { from, word_off };
        w.reached_objects += 1;
        w.reached_bytes = w.reached_bytes.saturating_add(obj.size);
        queue.push((class, obj));
    };

    // Root words are read in one pass; a root that cannot be read is skipped
    // (a frame slot past a torn stack, a .bss page missing from a core).
    for i in 0..w.roots.len() {
        let Some(slot) = w.roots.get(i).copied() else { break };
        if let Ok(v) = mem.read_u64(slot.addr) {
            if v != 0 {
                let class = u8::from(slot.kind != RootSlotKind::Global);
                reach(&mut w, &mut queue, class, root_base.saturating_add(i as u32), 0, v);
            }
        }
    }

    let mut offsets: Vec<u32> = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let residency = Residency::new(heap.stats().in_use_bytes);
    let mut scanned = 0u64;
    let mut next: Vec<(u8, Object)> = Vec::new();
    while !queue.is_empty() {
        queue.sort_unstable_by_key(|&(class, o)| (class, o.base));
        for (class, obj) in queue.drain(..) {
            scanned += 1;
            if scanned % CHECK_EVERY == 0 {
                residency.check(mem);
            }
            offsets.clear();
            if let Err(e) = heap.pointer_offsets(mem, obj, &mut offsets) {
                w.unreadable += 1;
                if w.first_error.is_none() {
                    w.first_error = Some(format!("pointer words of the object at {:#x}: {e}", obj.base));
                }
                continue;
            }
            let from = u32::try_from(obj.id).unwrap_or(NO_PARENT);
            // Read the part of the object the pointer words cover, chunk by chunk.
            let last = offsets.last().map_or(0, |&o| u64::from(o) + 8);
            let mut i = 0;
            while let Some(&first) = offsets.get(i) {
                let start = u64::from(first);
                let end = start.saturating_add(CHUNK).min(last).min(obj.size);

                buf.resize((end - start) as usize, 0);
                if mem.read(obj.base.wrapping_add(start), &mut buf).is_err() {
                    w.unreadable += 1;
                    // Skip what this chunk covered.
                    while offsets.get(i).is_some_and(|&o| u64::from(o) < end) {
                        i += 1;
                    }
                    continue;
                }
                while let Some(&o) = offsets.get(i) {
                    let o = u64::from(o);
                    if o >= end {
                        break;
                    }
                    i += 1;
                    let at = (o - start) as usize;
                    let Some(b) = buf.get(at..at + 8) else { continue };
                    let mut word = [0u8; 8];
                    word.copy_from_slice(b);
                    let v = u64::from_le_bytes(word);
                    if v != 0 {
                        reach(&mut w, &mut next, class, from, o as u32, v);
                    }
                }
            }
        }
        std::mem::swap(&mut queue, &mut next);
    }
    w
}
