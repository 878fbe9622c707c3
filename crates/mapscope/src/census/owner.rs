//! Owner paths: the walk's first-parent chain from a root to a map header,
//! written as a Go expression. Types are carried down the chain from where
//! they are known — a DWARF global, an interface's dynamic type, the key and
//! elem types of a map already identified — and each pointer word is named
//! by the field, index, map key, dynamic type or closure it sits in. Where
//! no type reaches, the step is the word's offset in its object.
//!
//! Grammar (README, "Owner expressions"):
//! `root ( .field | [i] | [key] | .(T) | .(closure F)+0xN | " → +0xN" )*`,
//! root = a global's name, `global 0xADDR` (stripped), or
//! `goroutine N F: local`.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::account::Role;
use super::walk::{RootSlotKind, Walk};
use super::Ctx;
use crate::binary::{GoType, Kind, TypeDetail, TypeId};
use crate::memory::MemoryExt;
use crate::roots::Roots;
use crate::values::ValueDecoder;

/// Longest chain followed; the walk's chains are shortest paths, so longer
/// means corrupt parent records.
const MAX_CHAIN: usize = 4096;
/// Field and element descent within one value.
const MAX_DESCENT: usize = 64;
const ITAB_TYPE: u64 = 8;
/// Longer type names are taken for garbage (Go's longest real ones, deep
/// generic instantiations, stay well below).
const MAX_TYPE_NAME: usize = 2048;
/// Map keys longer than this are cut in owner expressions.
const MAX_KEY_TEXT: usize = 96;

/// Where a map's chain of references starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RootKind {
    Global,
    Stack,
    Other,
}

/// One step of an owner path (`owner_path` in `maps --json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OwnerStep {
    /// global | local | field | index | key | elem | deref | iface | closure
    pub kind: &'static str,
    pub name: String,
    #[serde(serialize_with = "crate::census::hex_opt")]
    pub address: Option<u64>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Owner {
    pub root: RootKind,
    pub expr: String,
    pub steps: Vec<OwnerStep>,
    /// The map's type as the references that reach it declare it, and
    /// whether DWARF said so (else the runtime's type descriptors did).
    pub static_type: Option<(String, bool)>,
}

/// How the value at a word is known.
#[derive(Clone)]
enum Cursor {
    Typed {
        ty: Arc<GoType>,
        addr: u64,
    },
    /// A slice's backing array: elements of `elem` from `start`.
    Elems {
        elem: Arc<GoType>,
        start: u64,
    },
    /// Inside the allocations of census map `map`.
    InMap,
    /// A closure's funcval: captures are named by offset, and typed by the
    /// closure function's DWARF (`entry`) where it says what sits there.
    Closure {
        base: u64,
        entry: u64,
    },
    Untyped {
        base: u64,
    },
}

/// The type of a pointer word, as far as known.
enum Leaf {
    Typed(Arc<GoType>),
    /// The data word of an interface whose type word is at `type_word`.
    IfaceData {
        empty: bool,
        type_word: u64,
    },
    /// A map internal pointer (directory, table, overflow): no step.
    MapInternal,
    Unknown,
}

/// Per-census state for naming: type cache, the maps' internal allocations
/// and their types, global variables sorted by address.
pub(crate) struct Namer<'a, 'c> {
    ctx: &'a Ctx<'c>,
    roots: &'a Roots,
    walk: &'a Walk,
    specials: &'a [crate::heap::SpecialRoot],
    types: HashMap<TypeId, Option<Arc<GoType>>>,
    globals: Vec<(u64, u64, usize)>,
    decoder: ValueDecoder<'c>,
    /// Allocation base → (map index, role).
    pub internals: HashMap<u64, (usize, Role)>,
    /// Map index → (map type, its data start) for decoding slots.
    pub map_types: Vec<Option<Arc<GoType>>>,
    /// `[types, etypes)` of the module: where type descriptors are.
    type_range: (u64, u64),
}

impl<'a, 'c> Namer<'a, 'c> {
    pub fn new(ctx: &'a Ctx<'c>, roots: &'a Roots, walk: &'a Walk, specials: &'a [crate::heap::SpecialRoot]) -> Self {
        let mut globals = Vec::new();
        if let Ok(gs) = ctx.bin.globals() {
            for (i, g) in gs.iter().enumerate() {
                let size =
                    g.ty.as_ref()
                        .and_then(|t| ctx.bin.type_by_id(t.id).ok())
                        .map_or(8, |t| t.size.max(1));
                globals.push((g.addr, size, i));
            }
        }
        globals.sort_unstable();
        Namer {
            ctx,
            roots,
            walk,
            specials,
            types: HashMap::new(),
            globals,
            decoder: ValueDecoder::new(ctx.bin, ctx.mem.clone()),
            internals: HashMap::new(),
            map_types: Vec::new(),
            type_range: ctx.bin.moduledata().map_or((0, 0), |m| (m.types, m.etypes)),
        }
    }

    fn is_type_descriptor(&self, a: u64) -> bool {
        a >= self.type_range.0 && a < self.type_range.1
    }

    /// Is the word at `data - 8` an interface's type word (an `*abi.Type`, or
    /// an itab whose interface and type are descriptors)? Where no type
    /// reaches a word, this still names an interface's dynamic value.
    fn iface_before(&mut self, data: u64) -> Option<bool> {
        let tw = self.ctx.mem.read_u64(data.checked_sub(8)?).ok()?;
        if tw == 0 {
            return None;
        }
        if self.is_type_descriptor(tw) {
            return self.runtime_ty(tw).map(|_| true);
        }
        let inter = self.ctx.mem.read_u64(tw).ok()?;
        let ty = self.ctx.mem.read_u64(tw.wrapping_add(ITAB_TYPE)).ok()?;
        let inter_ok = self.runtime_ty(inter).is_some_and(|t| t.kind == Kind::Interface);
        (inter_ok && self.runtime_ty(ty).is_some()).then_some(false)
    }

    fn ty(&mut self, id: TypeId) -> Option<Arc<GoType>> {
        if let Some(t) = self.types.get(&id) {
            return t.clone();
        }
        let t = self.ctx.bin.type_by_id(id).ok().map(Arc::new);
        self.types.insert(id, t.clone());
        t
    }

    /// A runtime type descriptor, only when it reads as one: a word that
    /// merely points into the type section must not name a step.
    fn runtime_ty(&mut self, addr: u64) -> Option<Arc<GoType>> {
        if !self.is_type_descriptor(addr) {
            return None;
        }
        self.ty(TypeId::Runtime(addr)).filter(|t| {
            !t.name.is_empty()
                && t.name.len() <= MAX_TYPE_NAME
                && t.name.chars().all(|c| !c.is_control())
                && t.kind != Kind::Invalid
        })
    }

    /// The chain of (pointer word, value) from the root slot to `header_obj`.
    fn chain(&self, header_id: usize) -> Option<(u32, Vec<(u64, u64)>)> {
        let mut edges = Vec::new();
        let mut id = header_id;
        loop {
            let p = self.walk.parent(self.ctx.heap, id)?;
            let value = self.ctx.mem.read_u64(p.word).ok()?;
            edges.push((p.word, value));
            if edges.len() > MAX_CHAIN {
                return None;
            }
            if p.from >= self.walk.root_base {
                edges.reverse();
                return Some((p.from, edges));
            }
            id = p.from as usize;
        }
    }

    /// The owner of the map whose header is the heap object `header_id`.
    pub fn owner_of_heap_map(&mut self, header_id: usize) -> Option<Owner> {
        let (root, edges) = self.chain(header_id)?;
        let slot = *self.walk.root(root)?;
        let mut o = self.root_owner(slot.kind, slot.addr);
        let mut cursor = self.root_cursor(slot.kind, slot.addr);
        let n = edges.len();
        for (i, &(word, value)) in edges.iter().enumerate() {
            let leaf = self.descend_from(&mut o, &cursor, word);
            if i + 1 == n {
                let leaf = match leaf {
                    // A map held in an interface: its dynamic type names it.
                    Leaf::IfaceData { empty, type_word } => match self.iface_dynamic(&mut o, empty, type_word, value) {
                        Some((dt, true)) if dt.kind == Kind::Map => Leaf::Typed(dt),
                        _ => Leaf::Unknown,
                    },
                    l => l,
                };
                if let Leaf::Typed(t) = &leaf {
                    if t.kind == Kind::Map {
                        o.static_type = Some((t.name.clone(), matches!(t.id, TypeId::Dwarf(_))));
                    }
                }
                break;
            }
            cursor = self.pointee(&mut o, leaf, value);
        }
        Some(o)
    }

    /// The owner of a map whose header sits on a goroutine stack: the frame
    /// word that points at it (the map variable), else the frame holding it.
    pub fn owner_on_stack(&mut self, header: u64) -> Option<Owner> {
        let (gi, g) = self
            .roots
            .goroutines
            .iter()
            .enumerate()
            .find(|(_, g)| (g.stack_lo..g.stack_hi).contains(&header))?;
        let mut holder = None;
        'frames: for (fi, f) in g.frames.iter().enumerate() {
            let words = f
                .pointer_slots
                .iter()
                .copied()
                .chain(f.stack_objects.iter().flat_map(|o| {
                    o.pointer_offsets
                        .iter()
                        .map(move |&x| o.addr.wrapping_add(u64::from(x)))
                }));
            for w in words {
                if self.ctx.mem.read_u64(w).ok() == Some(header) {
                    holder = Some((fi, w));
                    break 'frames;
                }
            }
        }
        let (fi, slot) = match holder {
            Some(h) => h,
            None => {
                let fi = g
                    .frames
                    .iter()
                    .position(|f| header >= f.sp && header < f.fp.max(f.sp + 8))
                    .or_else(|| g.frames.len().checked_sub(1))?;
                (fi, header)
            }
        };
        let kind = RootSlotKind::Frame {
            goroutine: gi as u32,
            frame: fi as u32,
        };
        let mut o = self.root_owner(kind, slot);
        if holder.is_some() {
            let cursor = self.root_cursor(kind, slot);
            if let Leaf::Typed(t) = self.descend_from(&mut o, &cursor, slot) {
                if t.kind == Kind::Map {
                    o.static_type = Some((t.name.clone(), matches!(t.id, TypeId::Dwarf(_))));
                }
            }
        }
        Some(o)
    }

    fn root_owner(&mut self, kind: RootSlotKind, slot: u64) -> Owner {
        match kind {
            RootSlotKind::Global => {
                if let Some((name, addr, ty)) = self.global_at(slot) {
                    return Owner {
                        root: RootKind::Global,
                        expr: name.clone(),
                        steps: vec![OwnerStep {
                            kind: "global",
                            name: name.clone(),
                            address: Some(addr),
                            type_name: ty,
                        }],
                        static_type: None,
                    };
                }
                let (name, addr) = match self.ctx.bin.data_symbol_at(slot) {
                    Some(s) => (s.name.clone(), s.addr),
                    // A stripped interface variable is named where it starts.
                    None if self.iface_before(slot).is_some() => (format!("global {:#x}", slot - 8), slot - 8),
                    None => (format!("global {slot:#x}"), slot),
                };
                Owner {
                    root: RootKind::Global,
                    expr: name.clone(),
                    steps: vec![OwnerStep {
                        kind: "global",
                        name,
                        address: Some(addr),
                        type_name: None,
                    }],
                    static_type: None,
                }
            }
            RootSlotKind::Special { index } => {
                let sp = self.specials.get(index as usize);
                let what = match sp.map(|s| s.kind) {
                    Some(crate::heap::SpecialKind::Cleanup) => "cleanup",
                    _ => "finalizer",
                };
                let object = sp.map_or(slot, |s| s.object);
                let name = format!("{what} of {object:#x}");
                Owner {
                    root: RootKind::Other,
                    expr: name.clone(),
                    steps: vec![OwnerStep {
                        kind: "special",
                        name,
                        address: Some(object),
                        type_name: None,
                    }],
                    static_type: None,
                }
            }
            RootSlotKind::Frame { goroutine, frame } | RootSlotKind::StackObject { goroutine, frame, .. } => {
                let g = self.roots.goroutines.get(goroutine as usize);
                let f = g.and_then(|g| g.frames.get(frame as usize));
                let goid = g.map_or(0, |g| g.goid);
                let func = f.map_or("?", |f| f.function.as_str()).to_string();
                let at = match (kind, f) {
                    (RootSlotKind::StackObject { object, .. }, Some(f)) => {
                        f.stack_objects.get(object as usize).map_or(slot, |o| o.addr)
                    }
                    _ => slot,
                };
                let local = f
                    .and_then(|f| crate::roots::local_name(self.ctx.bin, f, at))
                    .unwrap_or_else(|| match f {
                        Some(f) => format!("sp+{:#x}", at.wrapping_sub(f.sp)),
                        None => "local".to_string(),
                    });
                Owner {
                    root: RootKind::Stack,
                    expr: format!("goroutine {goid} {func}: {local}"),
                    steps: vec![OwnerStep {
                        kind: "local",
                        name: format!("goroutine {goid} {func}: {local}"),
                        address: Some(at),
                        type_name: None,
                    }],
                    static_type: None,
                }
            }
        }
    }

    /// The DWARF global whose bytes hold `addr`.
    fn global_var(&self, addr: u64) -> Option<&'c crate::binary::GlobalVar> {
        let i = self.globals.partition_point(|g| g.0 <= addr);
        let &(start, size, idx) = self.globals.get(i.checked_sub(1)?)?;
        if addr >= start.saturating_add(size) {
            return None;
        }
        self.ctx.bin.globals().ok()?.get(idx)
    }

    /// The global variable holding `addr` (DWARF): name, address, type name.
    fn global_at(&mut self, addr: u64) -> Option<(String, u64, Option<String>)> {
        let g = self.global_var(addr)?;
        Some((g.name.clone(), g.addr, g.ty.as_ref().map(|t| t.name.clone())))
    }

    /// The cursor at a root: typed where DWARF knows the global.
    fn root_cursor(&mut self, kind: RootSlotKind, slot: u64) -> Cursor {
        if kind == RootSlotKind::Global {
            if let Some(g) = self.global_var(slot) {
                let start = g.addr;
                if let Some(t) = g.ty.as_ref().and_then(|t| self.ty(t.id)) {
                    return Cursor::Typed { ty: t, addr: start };
                }
                return Cursor::Untyped { base: start };
            }
            if let Some(s) = self.ctx.bin.data_symbol_at(slot) {
                return Cursor::Untyped { base: s.addr };
            }
            if self.iface_before(slot).is_some() {
                return Cursor::Untyped { base: slot - 8 };
            }
        }
        if let RootSlotKind::Special { index } = kind {
            // A finalized object's words are named from the object's start.
            if let Some(sp) = self.specials.get(index as usize) {
                if let Some(o) = self
                    .ctx
                    .heap
                    .find(sp.object)
                    .filter(|o| (o.base..o.base + o.size).contains(&slot))
                {
                    return Cursor::Untyped {
                        base: self.ctx.heap.data_start(o),
                    };
                }
            }
        }
        if let RootSlotKind::Frame { goroutine, frame } | RootSlotKind::StackObject { goroutine, frame, .. } = kind {
            let f = self
                .roots
                .goroutines
                .get(goroutine as usize)
                .and_then(|g| g.frames.get(frame as usize));
            if let Some(local) = f.and_then(|f| crate::roots::local_var(self.ctx.bin, f, slot)) {
                let start = local.slot.wrapping_sub(local.offset);
                if let Some(t) = local.type_offset.and_then(|o| self.ty(TypeId::Dwarf(o))) {
                    return Cursor::Typed { ty: t, addr: start };
                }
                return Cursor::Untyped { base: start };
            }
        }
        Cursor::Untyped { base: slot }
    }

    /// Names the way from `cursor` down to the pointer word at `word`.
    fn descend_from(&mut self, o: &mut Owner, cursor: &Cursor, word: u64) -> Leaf {
        // A word inside a map's own allocations is named by the map.
        if let Some(obj) = self.ctx.heap.find(word) {
            if let Some(&(m, role)) = self.internals.get(&obj.base) {
                if role != Role::Indirect {
                    return self.descend_map(o, m, role, obj, word);
                }
            }
        }
        match cursor.clone() {
            Cursor::Typed { ty, addr } => self.descend_typed(o, ty, addr, word),
            Cursor::Elems { elem, start } => {
                let size = elem.size.max(1);
                let Some(rel) = word.checked_sub(start) else {
                    return self.untyped_step(o, start, word, true);
                };
                let i = rel / size;
                push(o, "index", format!("[{i}]"), Some(start + i * size), Some(&elem.name));
                self.descend_typed(o, elem, start + i * size, word)
            }
            Cursor::InMap => Leaf::Unknown,
            Cursor::Closure { base, entry } => {
                let off = word.wrapping_sub(base);
                let capture = self.ctx.bin.closure_capture(entry, off).ok().flatten();
                let capture_ty = capture
                    .as_ref()
                    .and_then(|c| c.type_offset)
                    .and_then(|t| self.ty(TypeId::Dwarf(t)));
                if let Some(s) = o.steps.last_mut() {
                    s.name.push_str(&format!("+{off:#x}"));
                    if let Some(t) = &capture_ty {
                        s.type_name = Some(t.name.clone());
                    }
                }
                o.expr.push_str(&format!("+{off:#x}"));
                match capture_ty {
                    Some(t) => self.descend_typed(o, t, word, word),
                    None => Leaf::Unknown,
                }
            }
            Cursor::Untyped { base } => self.untyped_step(o, base, word, true),
        }
    }

    fn untyped_step(&mut self, o: &mut Owner, base: u64, word: u64, arrow: bool) -> Leaf {
        let off = word.wrapping_sub(base);
        // The data word of an interface: named from where the interface starts.
        let iface = (off >= 8).then(|| self.iface_before(word)).flatten();
        if let Some(empty) = iface {
            if off > 8 || o.steps.len() != 1 {
                self.push_offset(o, word - 8, off - 8, arrow);
            }
            return Leaf::IfaceData {
                empty,
                type_word: word - 8,
            };
        }
        if off == 0 && o.steps.len() == 1 {
            // The root word itself.
            return Leaf::Unknown;
        }
        self.push_offset(o, word, off, arrow);
        Leaf::Unknown
    }

    fn push_offset(&mut self, o: &mut Owner, word: u64, off: u64, arrow: bool) {
        let text = format!("+{off:#x}");
        o.expr.push_str(if arrow { " → " } else { "" });
        o.expr.push_str(&text);
        o.steps.push(OwnerStep {
            kind: "field",
            name: text.clone(),
            address: Some(word),
            type_name: None,
        });
    }

    fn descend_typed(&mut self, o: &mut Owner, mut ty: Arc<GoType>, mut addr: u64, word: u64) -> Leaf {
        for _ in 0..MAX_DESCENT {
            let Some(rel) = word.checked_sub(addr) else {
                return Leaf::Unknown;
            };
            match &ty.detail {
                TypeDetail::Struct { fields } => {
                    let f = fields.iter().rev().find(|f| f.offset <= rel);
                    let Some(f) = f.cloned() else { return Leaf::Unknown };
                    let Some(ft) = self.ty(f.ty.id) else {
                        push(
                            o,
                            "field",
                            format!(".{}", f.name),
                            Some(addr + f.offset),
                            Some(&f.ty.name),
                        );
                        return Leaf::Unknown;
                    };
                    if rel >= f.offset + ft.size.max(1) {
                        return self.untyped_step(o, addr, word, true);
                    }
                    push(
                        o,
                        "field",
                        format!(".{}", f.name),
                        Some(addr + f.offset),
                        Some(&ft.name),
                    );
                    addr += f.offset;
                    ty = ft;
                }
                TypeDetail::Array { elem, .. } => {
                    let Some(et) = self.ty(elem.id) else {
                        return Leaf::Unknown;
                    };
                    let size = et.size.max(1);
                    let i = rel / size;
                    push(o, "index", format!("[{i}]"), Some(addr + i * size), Some(&et.name));
                    addr += i * size;
                    ty = et;
                }
                TypeDetail::Interface { methods } => {
                    return if rel == 8 {
                        Leaf::IfaceData {
                            empty: methods.is_empty(),
                            type_word: addr,
                        }
                    } else {
                        Leaf::Unknown
                    };
                }
                _ => return if rel == 0 { Leaf::Typed(ty) } else { Leaf::Unknown },
            }
        }
        Leaf::Unknown
    }

    /// The word at `word` lies in allocation `obj` of map `m`.
    fn descend_map(&mut self, o: &mut Owner, m: usize, role: Role, obj: crate::heap::Object, word: u64) -> Leaf {
        if !matches!(role, Role::Groups | Role::Buckets | Role::OldBuckets | Role::Overflow) {
            return Leaf::MapInternal;
        }
        let Some(mt) = self.map_types.get(m).cloned().flatten() else {
            push(o, "elem", "[?]".to_string(), Some(word), None);
            return Leaf::Unknown;
        };
        let Ok(shape) = crate::maps::shape_of(self.ctx.bin, &mt) else {
            return Leaf::Unknown;
        };
        let size = shape.container_size().max(1);
        let ds = self.ctx.heap.data_start(obj);
        let Some(rel) = word.checked_sub(ds) else {
            return Leaf::Unknown;
        };
        let container = ds + rel / size * size;
        let off = rel % size;
        let key_w = if shape.indirect_key { 8 } else { shape.key_size };
        let elem_w = if shape.indirect_elem { 8 } else { shape.elem_size };
        let (key_t, elem_t) = match &mt.detail {
            TypeDetail::Map { key, elem, .. } => (self.ty(key.id), self.ty(elem.id)),
            _ => (None, None),
        };
        for i in 0..8u8 {
            let ko = shape.key_offset(i);
            let eo = shape.elem_offset(i);
            let (on_key, start, width) = if (ko..ko + key_w.max(1)).contains(&off) {
                (true, ko, key_w)
            } else if (eo..eo + elem_w.max(1)).contains(&off) {
                (false, eo, elem_w)
            } else {
                continue;
            };
            let _ = width;
            let key_addr = if shape.indirect_key {
                self.ctx.mem.read_u64(container + ko).unwrap_or(0)
            } else {
                container + ko
            };
            let text = match &key_t {
                Some(kt) => key_literal(&self.decoder, key_addr, kt),
                None => "?".to_string(),
            };
            let slot_addr = container + start;
            if on_key {
                push(
                    o,
                    "key",
                    format!("[key {text}]"),
                    Some(slot_addr),
                    key_t.as_ref().map(|t| t.name.as_str()),
                );
                let t = key_t.clone();
                return self.slot_leaf(o, t, shape.indirect_key, slot_addr, word);
            }
            push(
                o,
                "elem",
                format!("[{text}]"),
                Some(slot_addr),
                elem_t.as_ref().map(|t| t.name.as_str()),
            );
            return self.slot_leaf(o, elem_t.clone(), shape.indirect_elem, slot_addr, word);
        }
        // The overflow pointer of a bucket, or padding.
        Leaf::MapInternal
    }

    fn slot_leaf(&mut self, o: &mut Owner, t: Option<Arc<GoType>>, indirect: bool, slot: u64, word: u64) -> Leaf {
        let Some(t) = t else { return Leaf::Unknown };
        if indirect {
            // The slot is a pointer to the value: the next object is a *T.
            return Leaf::Typed(Arc::new(GoType {
                id: TypeId::Runtime(0),
                name: format!("*{}", t.name),
                kind: Kind::Pointer,
                size: 8,
                align: 8,
                runtime_addr: None,
                detail: TypeDetail::Pointer {
                    elem: Some(crate::binary::TypeRef {
                        name: t.name.clone(),
                        id: t.id,
                    }),
                },
            }));
        }
        self.descend_typed(o, t, slot, word)
    }

    /// The dynamic type of an interface whose type word is at `type_word`
    /// (pushed as a `.(T)` step), and whether its data word is the value
    /// itself (pointer-shaped types) rather than a pointer to it.
    fn iface_dynamic(&mut self, o: &mut Owner, empty: bool, type_word: u64, value: u64) -> Option<(Arc<GoType>, bool)> {
        let tw = self.ctx.mem.read_u64(type_word).ok()?;
        let taddr = if empty {
            tw
        } else {
            self.ctx.mem.read_u64(tw.wrapping_add(ITAB_TYPE)).ok()?
        };
        let dt = self.runtime_ty(taddr)?;
        push(o, "iface", format!(".({})", dt.name), Some(value), Some(&dt.name));
        let direct = self.ctx.bin.runtime_type_direct_iface(taddr).unwrap_or(false);
        Some((dt, direct))
    }

    /// An object reached by a pointer of unknown type: its words are named by
    /// their offset from the object's start (a pointer can point inside).
    fn untyped_at(&self, value: u64) -> Cursor {
        let base = self
            .ctx
            .heap
            .find(value)
            .map_or(value, |o| self.ctx.heap.data_start(o).min(value));
        Cursor::Untyped { base }
    }

    /// The cursor for the object a pointer word of type `leaf` points to.
    fn pointee(&mut self, o: &mut Owner, leaf: Leaf, value: u64) -> Cursor {
        match leaf {
            Leaf::MapInternal => Cursor::InMap,
            Leaf::Unknown => self.untyped_at(value),
            Leaf::IfaceData { empty, type_word } => match self.iface_dynamic(o, empty, type_word, value) {
                Some((dt, true)) => self.pointee(o, Leaf::Typed(dt), value),
                Some((dt, false)) => Cursor::Typed { ty: dt, addr: value },
                None => self.untyped_at(value),
            },
            Leaf::Typed(t) => match &t.detail {
                TypeDetail::Pointer { elem: Some(e) } => match self.ty(e.id) {
                    Some(et) => Cursor::Typed { ty: et, addr: value },
                    None => self.untyped_at(value),
                },
                TypeDetail::Slice { elem } => match self.ty(elem.id) {
                    Some(et) => Cursor::Elems { elem: et, start: value },
                    None => self.untyped_at(value),
                },
                TypeDetail::Func { .. } => {
                    let code = self.ctx.mem.read_u64(value).unwrap_or(0);
                    let func = self.ctx.bin.func_for_pc(code);
                    let entry = func.as_ref().map_or(0, |f| f.entry);
                    let name = func.map_or_else(|| format!("{code:#x}"), |f| f.name);
                    push(o, "closure", format!(".(closure {name})"), Some(value), None);
                    Cursor::Closure { base: value, entry }
                }
                _ => self.untyped_at(value),
            },
        }
    }
}

fn push(o: &mut Owner, kind: &'static str, text: String, address: Option<u64>, ty: Option<&str>) {
    o.expr.push_str(&text);
    o.steps.push(OwnerStep {
        kind,
        name: text,
        address,
        type_name: ty.map(str::to_string),
    });
}

/// A key as a Go literal: strings quoted as strconv.Quote does, everything
/// else as fmt prints it.
fn key_literal(decoder: &ValueDecoder<'_>, addr: u64, ty: &GoType) -> String {
    // A pointer key is its address (fmt would print the pointee, `&{…}`).
    if matches!(ty.kind, Kind::Pointer | Kind::UnsafePointer | Kind::Chan) {
        if let Ok(p) = decoder.mem.read_u64(addr) {
            return format!("{p:#x}");
        }
    }
    let v = decoder.decode(addr, ty);
    let mut text = if ty.kind == Kind::String {
        go_quote(&v.go_bytes())
    } else {
        go_escape(&v.go_bytes())
    };
    if text.len() > MAX_KEY_TEXT {
        let cut = (0..=MAX_KEY_TEXT)
            .rev()
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// `strconv.Quote`: printable runes as they are, the usual escapes,
/// `\xNN` for bytes that are not UTF-8.
pub fn go_quote(b: &[u8]) -> String {
    format!("\"{}\"", go_escape(b))
}

/// The inside of [`go_quote`]: what reaches a terminal carries no raw
/// control bytes.
pub fn go_escape(b: &[u8]) -> String {
    let mut out = String::with_capacity(b.len());
    for chunk in b.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\x07' => out.push_str("\\a"),
                '\x08' => out.push_str("\\b"),
                '\x0c' => out.push_str("\\f"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                '\x0b' => out.push_str("\\v"),
                c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\x{:02x}", c as u32)),
                c if c.is_control() => {
                    if (c as u32) <= 0xffff {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    } else {
                        out.push_str(&format!("\\U{:08x}", c as u32));
                    }
                }
                c => out.push(c),
            }
        }
        for &x in chunk.invalid() {
            out.push_str(&format!("\\x{x:02x}"));
        }
    }
    out
}
