//! The census: every live map of a process, found by walking the Go heap
//! from its roots the way the garbage collector does, each with its type,
//! its owner (the shortest chain of references from a root, as a Go
//! expression), and what it costs.
//!
//! Layers: `heap` (spans, objects, pointer words) and `roots` (globals,
//! goroutine frames) feed [`walk`], a breadth-first reachability pass that
//! records each object's first parent. Reached objects of the header's size
//! class, and headers on stacks, are checked by [`detect`]; [`account`]
//! prices each map's allocations; [`owner`] names the chain of references.

pub mod account;
mod candidates;
mod detect;
pub mod owner;
pub mod prove;
pub mod walk;

use std::collections::HashSet;
use std::sync::Arc;

use serde::{Serialize, Serializer};

pub use account::Breakdown;
use candidates::Candidates;
pub use owner::{go_quote, OwnerStep, RootKind};

use crate::binary::{GoBinary, MapVariant};
use crate::heap::{Heap, HeapError, HeapStats, Object};
use crate::layout::runtime::{StructSpec, HMAP_NAME, SWISS_MAP_NAME, TABLE_NAME};
use crate::layout::RuntimeLayout;
use crate::maps::MapHandle;
use crate::memory::{Memory, ThreadStatus};
use crate::path::params::TargetHash;
use crate::roots::{Roots, RootsError};

/// Maps examined between looks at a mapped core's resident pages.
const CHECK_EVERY_MAPS: u64 = 256;
/// Type names listed when a map's type is not certain.
const MAX_CANDIDATES_LISTED: usize = 16;

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CensusError {
    #[error("the map runtime of this binary is unknown (no Go version or variant; try --go-version)")]
    UnknownRuntime,
    #[error("the runtime layout lacks {0}")]
    Layout(&'static str),
    #[error("reading the Go heap: {0}")]
    Heap(#[from] HeapError),
    #[error("finding the roots (globals, goroutines): {0}")]
    Roots(#[from] RootsError),
}

/// How a map's type was established.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TypeSource {
    /// The DWARF type of the reference that reaches it.
    Dwarf,
    /// A runtime type descriptor on the way: an interface's dynamic type,
    /// the elem type of an enclosing map already typed.
    Runtime,
    /// Its bucket/group allocation names its own type (malloc header, large
    /// span type), or its shape fits a single map type of the binary.
    Layout,
    /// Stored keys hashed with the map's seed reproduce their tophash/h2
    /// for exactly this type's key.
    Hash,
}

#[derive(Debug, Clone, Serialize)]
pub struct CensusMap {
    #[serde(serialize_with = "hex")]
    pub address: u64,
    #[serde(rename = "type")]
    pub type_name: Option<String>,
    pub type_source: Option<TypeSource>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub type_candidates: Vec<String>,
    pub len: u64,
    pub variant: &'static str,
    pub root: RootKind,
    pub owner: String,
    pub owner_path: Vec<OwnerStep>,
    /// References to the header beyond the one on the owner path.
    pub other_references: u32,
    pub header_on_stack: bool,
    pub bytes: u64,
    pub live_bytes: u64,
    pub waste_bytes: u64,
    pub breakdown: Breakdown,
    /// Classic: entries per bucket (Go's load factor, at most 6.5). Swiss:
    /// used slots per slot of capacity (at most 7/8).
    pub load_factor: f64,
    pub tombstones: u64,
    pub growing: bool,
    /// Stored keys whose hashes were recomputed to prove the type.
    pub keys_hashed: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl CensusMap {
    /// The owner path as profile frames, root first, without addresses: a
    /// stripped global becomes `global (stripped)`, a frame's local becomes
    /// its function and the local's name (goroutine ids differ between cores).
    pub fn profile_frames(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(self.owner_path.len() + 1);
        for (i, step) in self.owner_path.iter().enumerate() {
            match (i, step.kind) {
                (0, "global") if step.name.starts_with("global 0x") => out.push("global (stripped)".to_string()),
                // "finalizer of 0x…": the address would keep two cores' profiles apart.
                (0, "special") => out.push(step.name.split(' ').next().unwrap_or("special").to_string()),
                (0, "local") => {
                    // "goroutine N F: LOCAL"
                    let rest = step.name.splitn(3, ' ').nth(2).unwrap_or(&step.name);
                    match rest.split_once(": ") {
                        Some((func, local)) => {
                            out.push(format!("goroutine {func}"));
                            out.push(local.to_string());
                        }
                        None => out.push(rest.to_string()),
                    }
                }
                _ => out.push(step.name.clone()),
            }
        }
        out
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub maps: u64,
    pub entries: u64,
    pub bytes: u64,
    pub live_bytes: u64,
    pub waste_bytes: u64,
    /// Bytes of allocated heap objects (all of them, reached or not).
    pub heap_bytes: u64,
    /// Bytes of the objects the walk reached from the roots.
    pub reached_bytes: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WalkSummary {
    pub mheap: String,
    pub heap: HeapStats,
    pub global_slots: usize,
    pub goroutines: usize,
    pub frames: usize,
    /// Finalizers and cleanups whose words were roots.
    pub specials: usize,
    pub reached_objects: u64,
    pub unreadable_objects: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Census {
    pub go_version: Option<String>,
    pub variant: &'static str,
    pub totals: Totals,
    pub maps: Vec<CensusMap>,
    pub walk: WalkSummary,
    pub errors: Vec<String>,
}

/// Progress of a long census, for a terminal indicator.
pub trait Progress: Sync {
    fn phase(&self, what: &str);
}

/// What the detectors and the accountant share.
pub(crate) struct Ctx<'a> {
    pub bin: &'a GoBinary,
    pub mem: Arc<dyn Memory>,
    pub heap: &'a Heap,
    pub layout: RuntimeLayout,
    pub variant: MapVariant,
    pub header: &'static StructSpec,
    pub table: Option<&'static StructSpec>,
    /// Offsets of the header's pointer fields, ascending.
    pub header_ptr_offsets: Vec<u32>,
    pub cands: Candidates,
    pub target: Option<TargetHash>,
    /// Every stack object of every frame: address → (size, pointer offsets).
    pub stack_objects: std::collections::HashMap<u64, (u64, Vec<u32>)>,
}

fn hex<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#x}"))
}

pub(crate) fn hex_opt<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format!("{v:#x}")),
        None => s.serialize_none(),
    }
}

struct Found {
    addr: u64,
    obj: Option<Object>,
    d: detect::Detected,
}

/// Runs the census over `mem`. `threads`: the process's thread registers
/// (from a core's notes; empty for a live process), for running goroutines.
pub fn run(
    bin: &GoBinary,
    mem: Arc<dyn Memory>,
    threads: &[ThreadStatus],
    progress: Option<&dyn Progress>,
) -> Result<Census, CensusError> {
    let say = |what: &str| {
        if let Some(p) = progress {
            p.phase(what);
        }
    };
    let layout = RuntimeLayout::for_binary(bin).ok_or(CensusError::UnknownRuntime)?;
    let variant = bin.map_variant().variant.ok_or(CensusError::UnknownRuntime)?;
    let (header, table) = match variant {
        MapVariant::Classic => (layout.get(HMAP_NAME).ok_or(CensusError::Layout(HMAP_NAME))?, None),
        _ => (
            layout.get(SWISS_MAP_NAME).ok_or(CensusError::Layout(SWISS_MAP_NAME))?,
            Some(layout.get(TABLE_NAME).ok_or(CensusError::Layout(TABLE_NAME))?),
        ),
    };
    say("reading the heap");
    let heap = Heap::open(bin, &*mem)?;
    say("finding roots");
    let roots = crate::roots::find_roots(bin, &*mem, threads)?;
    let mut errors: Vec<String> = roots.errors.iter().map(|e| e.to_string()).collect();
    let target = match crate::path::params::read_target_hash(bin, &*mem) {
        Ok(t) => Some(t),
        Err(e) => {
            errors.push(format!("types cannot be proved by hashing: {e}"));
            None
        }
    };
    let header_ptr_offsets = header
        .fields
        .iter()
        .filter(|f| f.ty.starts_with('*') || f.ty == "unsafe.Pointer")
        .map(|f| f.offset as u32)
        .collect();
    let ctx = Ctx {
        bin,
        mem: mem.clone(),
        heap: &heap,
        layout,
        variant,
        header,
        table,
        header_ptr_offsets,
        cands: Candidates::load(bin, &*mem),
        target,
        stack_objects: roots
            .goroutines
            .iter()
            .flat_map(|g| &g.frames)
            .flat_map(|f| &f.stack_objects)
            .map(|o| (o.addr, (o.size, o.pointer_offsets.clone())))
            .collect(),
    };
    let header_class = heap.alloc_size(header.size, true);

    say("walking the heap");
    let specials = heap.special_roots(&*mem);
    let w = walk::walk(&heap, &*mem, walk::root_slots(&roots, &specials), &|s| {
        s == header_class
    });
    if let Some(e) = &w.first_error {
        errors.push(format!("{} objects could not be scanned; first: {e}", w.unreadable));
    }

    say("identifying maps");
    let mut found = find_headers(&ctx, &roots, &w, header_class);

    say("accounting");
    let mut maps: Vec<CensusMap> = Vec::with_capacity(found.len());
    let mut namer = owner::Namer::new(&ctx, &roots, &w, &specials);
    let residency = walk::Residency::new(heap.stats().in_use_bytes);
    for (i, f) in found.iter_mut().enumerate() {
        if i as u64 % CHECK_EVERY_MAPS == CHECK_EVERY_MAPS - 1 {
            residency.check(&*mem);
        }
        let remaining = f.d.remaining(&ctx.cands);
        let single = match remaining.as_slice() {
            [one] if f.d.fits_total == f.d.fits.len() => Some(*one),
            _ => None,
        };
        let chosen = f.d.by_container_type.or(single).or(f.d.by_elems);
        let source = match (chosen, f.d.by_container_type, single) {
            (Some(_), Some(_), _) => Some(TypeSource::Layout),
            (Some(_), None, Some(_)) if f.d.keys_checked > 0 => Some(TypeSource::Hash),
            (Some(_), _, _) => Some(TypeSource::Layout),
            _ => None,
        };
        let mut m = new_map(&ctx, f, &remaining, chosen, source);
        let shape_from = chosen.or_else(|| remaining.first().copied());
        let handle = shape_from.and_then(|c| open(&ctx, f.addr, c));
        for (o, role) in price(&ctx, &mut m, handle.as_ref(), f) {
            namer.internals.insert(o.base, (i, role));
        }
        m.other_references = f.obj.and_then(|o| w.extra_refs.get(&o.id)).copied().unwrap_or(0);
        // The candidate list has served; a census of 100k maps keeps no lists.
        f.d.fits = Vec::new();
        namer
            .map_types
            .push(chosen.and_then(|c| ctx.cands.get(c)).map(|c| Arc::new(c.ty.clone())));
        maps.push(m);
    }

    // Whatever of a mapped core is still resident is not needed again soon.
    mem.release_cache();
    say("naming owners");
    // Outer maps first, so a map reached through another map's entries finds
    // that map already typed.
    let mut order: Vec<(usize, usize)> = found
        .iter()
        .enumerate()
        .map(|(i, f)| (f.obj.map_or(0, |o| chain_len(&heap, &w, o.id)), i))
        .collect();
    order.sort_unstable();
    for (n, &(_, i)) in order.iter().enumerate() {
        if n as u64 % CHECK_EVERY_MAPS == CHECK_EVERY_MAPS - 1 {
            residency.check(&*mem);
        }
        let (Some(f), Some(m)) = (found.get(i), maps.get_mut(i)) else {
            continue;
        };
        let owner = match f.obj {
            Some(o) => namer.owner_of_heap_map(o.id),
            None => namer.owner_on_stack(f.addr),
        };
        let Some(owner) = owner else {
            m.owner = "?".to_string();
            m.root = RootKind::Other;
            continue;
        };
        m.owner = owner.expr;
        m.owner_path = owner.steps;
        m.root = owner.root;
        let Some((name, dwarf)) = owner.static_type else {
            continue;
        };
        let Some(c) = ctx.cands.by_name(&name) else {
            if m.type_name.is_none() {
                m.type_name = Some(name);
                m.type_source = Some(if dwarf { TypeSource::Dwarf } else { TypeSource::Runtime });
            }
            continue;
        };
        if !f.d.allows(&ctx.cands, c) && f.d.fits_total > 0 {
            errors.push(format!(
                "{:#x}: the reference declares {name}, but its stored keys do not hash as that type's",
                f.addr
            ));
            continue;
        }
        let reshape = m.type_name.is_none();
        m.type_name = Some(name);
        m.type_source = Some(if dwarf { TypeSource::Dwarf } else { TypeSource::Runtime });
        m.type_candidates.clear();
        if let Some(slot) = namer.map_types.get_mut(i) {
            *slot = ctx.cands.get(c).map(|c| Arc::new(c.ty.clone()));
        }
        if reshape {
            if let Some(h) = open(&ctx, f.addr, c) {
                for (o, role) in price(&ctx, m, Some(&h), f) {
                    namer.internals.insert(o.base, (i, role));
                }
            }
        }
    }

    mem.release_cache();
    let mut totals = Totals {
        heap_bytes: heap.stats().in_use_bytes,
        reached_bytes: w.reached_bytes,
        ..Totals::default()
    };
    for m in &maps {
        totals.maps += 1;
        totals.entries += m.len;
        totals.bytes += m.bytes;
        totals.live_bytes += m.live_bytes;
        totals.waste_bytes += m.waste_bytes;
    }
    maps.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.owner.cmp(&b.owner)));
    let frames = roots.goroutines.iter().map(|g| g.frames.len()).sum();
    Ok(Census {
        go_version: bin.go_version().map(|v| v.raw.clone()),
        variant: variant.as_str(),
        totals,
        maps,
        walk: WalkSummary {
            mheap: format!("{:#x} ({})", heap.mheap_addr(), heap.how_found()),
            heap: heap.stats(),
            global_slots: roots.global_slots.len(),
            goroutines: roots.goroutines.len(),
            frames,
            specials: specials.len(),
            reached_objects: w.reached_objects,
            unreadable_objects: w.unreadable,
        },
        errors,
    })
}

fn chain_len(heap: &Heap, w: &walk::Walk, mut id: usize) -> usize {
    let mut n = 0;
    while let Some(p) = w.parent(heap, id) {
        n += 1;
        if p.from >= w.root_base || n > 4096 {
            break;
        }
        id = p.from as usize;
    }
    n
}

/// Every map header among the reached heap objects and on goroutine stacks.
fn find_headers(ctx: &Ctx<'_>, roots: &Roots, w: &walk::Walk, header_class: u64) -> Vec<Found> {
    let mut out = Vec::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut tried = 0u64;
    let residency = walk::Residency::new(ctx.heap.stats().in_use_bytes);
    for o in ctx.heap.objects() {
        if o.size != header_class || !w.is_reached(o.id) {
            continue;
        }
        tried += 1;
        if tried % CHECK_EVERY_MAPS == 0 {
            residency.check(&*ctx.mem);
        }
        if !ctx.header_pointer_mask_fits(o) {
            continue;
        }
        let addr = ctx.heap.data_start(o);
        if let Some(d) = ctx.detect(addr) {
            seen.insert(addr);
            out.push(Found { addr, obj: Some(o), d });
        }
    }
    // Headers the compiler kept on a stack: stack objects of the header's
    // size, and the words around a live pointer slot that could be a
    // header's pointer field (the stack map can cover the field itself).
    for g in &roots.goroutines {
        for f in &g.frames {
            for so in &f.stack_objects {
                if so.size == ctx.header.size && seen.insert(so.addr) {
                    if let Some(d) = ctx.detect(so.addr) {
                        out.push(Found {
                            addr: so.addr,
                            obj: None,
                            d,
                        });
                    }
                }
            }
            for &s in &f.pointer_slots {
                for &off in &ctx.header_ptr_offsets {
                    let Some(addr) = s.checked_sub(u64::from(off)) else {
                        continue;
                    };
                    if addr < f.sp || addr < g.stack_lo || addr + ctx.header.size > g.stack_hi || seen.contains(&addr) {
                        continue;
                    }
                    // Without a stack object record, only a proved header counts.
                    if let Some(d) = ctx
                        .detect(addr)
                        .filter(|d| d.keys_checked > 0 && !d.proved_keys.is_empty())
                    {
                        seen.insert(addr);
                        out.push(Found { addr, obj: None, d });
                    }
                }
            }
        }
    }
    out
}

fn open(ctx: &Ctx<'_>, addr: u64, cand: usize) -> Option<MapHandle> {
    let c = ctx.cands.get(cand)?;
    MapHandle::open(ctx.mem.clone(), &ctx.layout, ctx.variant, addr, c.shape).ok()
}

fn new_map(
    ctx: &Ctx<'_>,
    f: &Found,
    remaining: &[usize],
    chosen: Option<usize>,
    source: Option<TypeSource>,
) -> CensusMap {
    // Listed when the type is unknown, or chosen by its elems among types
    // whose keys hash alike (likely, not certain).
    let type_candidates = if chosen.is_none() || (chosen == f.d.by_elems && f.d.by_container_type.is_none()) {
        remaining
            .iter()
            .filter(|&&i| Some(i) != chosen)
            .filter_map(|&i| ctx.cands.get(i))
            .map(|c| c.ty.name.clone())
            .take(MAX_CANDIDATES_LISTED)
            .collect()
    } else {
        Vec::new()
    };
    let header_bytes = f.obj.map_or(0, |o| o.size);
    CensusMap {
        address: f.addr,
        type_name: chosen.and_then(|i| ctx.cands.get(i)).map(|c| c.ty.name.clone()),
        type_source: source,
        type_candidates,
        len: f.d.len,
        variant: ctx.variant.as_str(),
        root: RootKind::Other,
        owner: String::new(),
        owner_path: Vec::new(),
        other_references: 0,
        header_on_stack: f.obj.is_none(),
        bytes: header_bytes,
        live_bytes: 0,
        waste_bytes: 0,
        breakdown: Breakdown {
            header: header_bytes,
            ..Breakdown::default()
        },
        load_factor: 0.0,
        tombstones: 0,
        growing: false,
        keys_hashed: f.d.keys_checked,
        error: None,
    }
}

/// Fills in the cost of a map from its allocations, and returns them.
fn price(ctx: &Ctx<'_>, m: &mut CensusMap, handle: Option<&MapHandle>, f: &Found) -> Vec<(Object, account::Role)> {
    let Some(h) = handle else { return Vec::new() };
    let a = ctx.account(h, f.addr);
    m.bytes = a.breakdown.total();
    m.breakdown = a.breakdown;
    // What live entries occupy of `bytes` (nothing on the heap for a map kept on a stack).
    m.live_bytes = a.live.min(m.bytes);
    m.waste_bytes = m.bytes.saturating_sub(a.fresh);
    m.load_factor = a.load_factor;
    m.tombstones = a.tombstones;
    m.growing = a.growing;
    if a.entries != m.len {
        m.error = Some(format!(
            "the header counts {} entries, its buckets/groups hold {}",
            m.len, a.entries
        ));
    }
    if let Some(e) = a.error {
        m.error = Some(e);
    }
    a.allocations
}
