//! The decoder: plans in, [`Value`] trees out.
//!
//! One [`ValueDecoder`] serves any number of decodes and keeps the plans it
//! made. Each decode is a [`Walk`] that counts the nodes it produced and the
//! maps and slices it is inside of, so that depth, size and self-reference
//! all stay bounded whatever the memory says.

use std::sync::{Arc, OnceLock};

use super::error::ValueError;
use super::plan::{Plan, PlanCache, Shape};
use super::value::{Elision, FieldValue, Value, ValueKind};
use super::Limits;
use crate::binary::{GoBinary, GoType, MapVariant, TypeId};
use crate::layout::RuntimeLayout;
use crate::maps::Entry;
use crate::memory::{ByteOrder, Memory, MemoryExt};

/// Composite values up to this size are read with one request and decoded
/// from the copy; larger ones element by element.
const BULK_READ: u64 = 1 << 20;

/// Type-directed decoder of Go values in a target's memory.
pub struct ValueDecoder<'b> {
    pub(crate) bin: &'b GoBinary,
    pub(crate) mem: Arc<dyn Memory>,
    pub(crate) limits: Limits,
    pub(crate) plans: PlanCache,
    pub(crate) order: ByteOrder,
    runtime: OnceLock<Option<(RuntimeLayout, MapVariant)>>,
}

impl std::fmt::Debug for ValueDecoder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValueDecoder")
            .field("bin", self.bin)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

/// The key and elem plans of one map type, made once for all its entries.
#[derive(Debug, Clone)]
pub struct EntryPlans {
    pub key: Arc<Plan>,
    pub elem: Arc<Plan>,
}

impl<'b> ValueDecoder<'b> {
    pub fn new(bin: &'b GoBinary, mem: Arc<dyn Memory>) -> Self {
        let order = mem.byte_order();
        ValueDecoder {
            bin,
            mem,
            limits: Limits::default(),
            plans: PlanCache::default(),
            order,
            runtime: OnceLock::new(),
        }
    }

    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The decode plan of `ty`, made once and cached by its id.
    pub fn plan(&self, ty: &GoType) -> Result<Arc<Plan>, ValueError> {
        self.plans.for_type(self.bin, ty)
    }

    /// The decode plan of the type `id` names.
    pub fn plan_by_id(&self, id: TypeId) -> Result<Arc<Plan>, ValueError> {
        self.plans.by_id(self.bin, id)
    }

    /// Decodes the value of type `ty` at `addr`, as the argument of a
    /// `fmt.Sprint` (so a pointer to a struct is followed, as fmt does).
    pub fn decode(&self, addr: u64, ty: &GoType) -> Value {
        match self.plan(ty) {
            Ok(p) => self.decode_with(addr, &p),
            Err(e) => Value::unreadable(addr, e),
        }
    }

    /// [`decode`](Self::decode) with a plan already made: the fast path.
    pub fn decode_with(&self, addr: u64, plan: &Plan) -> Value {
        Walk::new(self).value(addr, plan, None, 0, true)
    }

    /// The whole map whose header is at `header` (not the map word that
    /// points at it), entries in fmt's order.
    pub fn decode_map_header(&self, header: u64, map_type: &GoType) -> Value {
        let plan = match self.plan(map_type) {
            Ok(p) => p,
            Err(e) => return Value::unreadable(header, e),
        };
        match &plan.shape {
            Shape::Map(mp) => Walk::new(self).map(header, header, mp, 0),
            _ => Value::unreadable(
                header,
                ValueError::Type {
                    type_name: map_type.name.clone(),
                    message: "not a map type".into(),
                },
            ),
        }
    }

    /// Key and elem plans of a map type, for [`decode_entry`](Self::decode_entry).
    pub fn entry_plans(&self, map_type: &GoType) -> Result<EntryPlans, ValueError> {
        let plan = self.plan(map_type)?;
        match &plan.shape {
            Shape::Map(mp) => Ok(EntryPlans {
                key: mp.key.get(&self.plans, self.bin).map_err(Clone::clone)?.clone(),
                elem: mp.elem.get(&self.plans, self.bin).map_err(Clone::clone)?.clone(),
            }),
            _ => Err(ValueError::Type {
                type_name: map_type.name.clone(),
                message: "not a map type".into(),
            }),
        }
    }

    /// One entry of a map walked with [`MapHandle`](crate::maps::MapHandle):
    /// its key and its value, each decoded as a `fmt.Sprint` argument.
    pub fn decode_entry(&self, plans: &EntryPlans, entry: &Entry) -> (Value, Value) {
        (
            self.decode_with(entry.key, &plans.key),
            self.decode_with(entry.elem, &plans.elem),
        )
    }

    pub(crate) fn runtime(&self) -> Option<(RuntimeLayout, MapVariant)> {
        *self.runtime.get_or_init(|| {
            let layout = RuntimeLayout::for_binary(self.bin)?;
            Some((layout, self.bin.map_variant().variant?))
        })
    }

    pub(crate) fn word_from(&self, b: &[u8]) -> u64 {
        let mut w = [0u8; 8];
        let n = b.len().min(8);
        match self.order {
            ByteOrder::Little => {
                if let (Some(d), Some(s)) = (w.get_mut(..n), b.get(..n)) {
                    d.copy_from_slice(s);
                }
                u64::from_le_bytes(w)
            }
            ByteOrder::Big => {
                if let (Some(d), Some(s)) = (w.get_mut(8 - n..), b.get(..n)) {
                    d.copy_from_slice(s);
                }
                u64::from_be_bytes(w)
            }
        }
    }

    pub(crate) fn word_bytes(&self, w: u64) -> [u8; 8] {
        match self.order {
            ByteOrder::Little => w.to_le_bytes(),
            ByteOrder::Big => w.to_be_bytes(),
        }
    }
}

/// Bytes a scalar-like kind occupies (what must be read to decode it).
fn scalar_len(shape: &Shape, size: u64) -> Option<usize> {
    Some(match shape {
        Shape::Bool => 1,
        Shape::Int | Shape::Uint => size.clamp(1, 8) as usize,
        Shape::Float32 => 4,
        Shape::Float64 | Shape::Complex64 => 8,
        Shape::Complex128 | Shape::String | Shape::Interface { .. } => 16,
        Shape::UnsafePointer | Shape::Chan | Shape::Func | Shape::Pointer { .. } | Shape::Map(_) => 8,
        Shape::Slice { .. } => 24,
        Shape::Array { .. } | Shape::Struct { .. } | Shape::Unsupported(_) => return None,
    })
}

/// One top-level decode: its budget and the containers it is inside of.
pub(crate) struct Walk<'d, 'b> {
    pub(crate) dec: &'d ValueDecoder<'b>,
    nodes: u64,
    /// String bytes kept so far, against `max_total_bytes`.
    bytes: u64,
    /// Map headers and slice arrays on the path from the root (cycle check).
    pub(crate) inside: Vec<u64>,
}

impl<'d, 'b> Walk<'d, 'b> {
    pub(crate) fn new(dec: &'d ValueDecoder<'b>) -> Self {
        Walk {
            dec,
            nodes: 0,
            bytes: 0,
            inside: Vec::new(),
        }
    }

    pub(crate) fn over_budget(&self) -> bool {
        self.nodes >= self.dec.limits.max_nodes
    }

    pub(crate) fn read_word(&self, addr: u64, what: &'static str) -> Result<u64, ValueError> {
        self.dec
            .mem
            .read_u64(addr)
            .map_err(|e| ValueError::memory(what, addr, e))
    }

    /// Decodes the value of `plan` at `addr`. `src` holds its bytes when the
    /// caller already read them; `top` is fmt's depth 0 (interfaces keep it,
    /// since fmt receives their dynamic value).
    pub(crate) fn value(&mut self, addr: u64, plan: &Plan, src: Option<&[u8]>, depth: u32, top: bool) -> Value {
        self.nodes = self.nodes.saturating_add(1);
        if self.nodes > self.dec.limits.max_nodes {
            return Value::new(addr, ValueKind::Elided(Elision::Budget));
        }
        if depth > self.dec.limits.max_depth {
            return Value::new(addr, ValueKind::Elided(Elision::Depth));
        }
        match scalar_len(&plan.shape, plan.size) {
            Some(n) => {
                let mut buf = [0u8; 24];
                let Some(b) = buf.get_mut(..n) else {
                    return Value::new(addr, ValueKind::Elided(Elision::Budget));
                };
                match src.and_then(|s| s.get(..n)) {
                    Some(s) => b.copy_from_slice(s),
                    None => {
                        if let Err(e) = self.dec.mem.read(addr, b) {
                            return Value::unreadable(addr, ValueError::memory("value", addr, e));
                        }
                    }
                }
                self.scalar(addr, plan, b, depth, top)
            }
            None => self.composite(addr, plan, src, depth),
        }
    }

    fn scalar(&mut self, addr: u64, plan: &Plan, b: &[u8], depth: u32, top: bool) -> Value {
        let d = self.dec;
        let w = |off: usize| b.get(off..off + 8).map_or(0, |s| d.word_from(s));
        let kind = match &plan.shape {
            Shape::Bool => ValueKind::Bool(b.first().is_some_and(|&x| x != 0)),
            Shape::Int => {
                let bits = (b.len() * 8) as u32;
                let u = d.word_from(b);
                // Sign-extend from the type's width.
                let shift = 64 - bits.clamp(8, 64);
                ValueKind::Int(((u << shift) as i64) >> shift)
            }
            Shape::Uint => ValueKind::Uint(d.word_from(b)),
            Shape::Float32 => ValueKind::Float32(f32::from_bits(d.word_from(b) as u32)),
            Shape::Float64 => ValueKind::Float64(f64::from_bits(w(0))),
            Shape::Complex64 => {
                let re = b.get(..4).map_or(0, |s| d.word_from(s)) as u32;
                let im = b.get(4..8).map_or(0, |s| d.word_from(s)) as u32;
                ValueKind::Complex64(f32::from_bits(re), f32::from_bits(im))
            }
            Shape::Complex128 => ValueKind::Complex128(f64::from_bits(w(0)), f64::from_bits(w(8))),
            Shape::String => return self.string(addr, w(0), w(8)),
            Shape::UnsafePointer => ValueKind::UnsafePointer(w(0)),
            Shape::Chan => ValueKind::Chan(w(0)),
            Shape::Func => return self.func(addr, w(0)),
            Shape::Pointer { elem } => return self.pointer(addr, w(0), elem.as_ref(), depth, top),
            Shape::Slice { elem } => return self.slice(addr, [w(0), w(8), w(16)], elem, depth),
            Shape::Map(mp) => return self.map(addr, w(0), mp, depth),
            Shape::Interface { empty } => return self.interface(addr, w(0), w(8), *empty, depth, top),
            Shape::Array { .. } | Shape::Struct { .. } | Shape::Unsupported(_) => return self.unsupported(addr, plan),
        };
        Value::new(addr, kind)
    }

    fn unsupported(&self, addr: u64, plan: &Plan) -> Value {
        let kind = match &plan.shape {
            Shape::Unsupported(k) => format!("{k:?}"),
            _ => "?".into(),
        };
        Value::unreadable(
            addr,
            ValueError::Unsupported {
                type_name: plan.name.to_string(),
                kind,
            },
        )
    }

    fn string(&mut self, addr: u64, data: u64, len: u64) -> Value {
        let limits = &self.dec.limits;
        let left = limits
            .max_total_bytes
            .max(limits.max_string_bytes)
            .saturating_sub(self.bytes);
        if len > 0 && left == 0 {
            return Value::new(addr, ValueKind::Elided(Elision::Budget));
        }
        let n = len.min(limits.max_string_bytes).min(left);
        if n == 0 {
            return Value::new(addr, ValueKind::String { bytes: Vec::new(), len });
        }
        self.bytes = self.bytes.saturating_add(n);
        match self.dec.mem.read_vec_capped(data, n, usize::MAX) {
            Ok(bytes) => Value::new(addr, ValueKind::String { bytes, len }),
            Err(e) => Value::unreadable(addr, ValueError::memory("string bytes", data, e)),
        }
    }

    fn pointer(&mut self, addr: u64, ptr: u64, elem: Option<&super::plan::Child>, depth: u32, top: bool) -> Value {
        // fmt prints `&` and the pointee only at depth 0, and only for these
        // kinds; everywhere else a pointer is its address.
        let target = match (top && ptr != 0, elem) {
            (true, Some(c)) => match c.get(&self.dec.plans, self.dec.bin) {
                Ok(p)
                    if matches!(
                        p.shape,
                        Shape::Array { .. } | Shape::Slice { .. } | Shape::Struct { .. } | Shape::Map(_)
                    ) =>
                {
                    let p = Arc::clone(p);
                    Some(Box::new(self.value(ptr, &p, None, depth + 1, false)))
                }
                Ok(_) => None,
                Err(e) => Some(Box::new(Value::unreadable(ptr, e.clone()))),
            },
            _ => None,
        };
        Value::new(addr, ValueKind::Pointer { ptr, target })
    }

    fn composite(&mut self, addr: u64, plan: &Plan, src: Option<&[u8]>, depth: u32) -> Value {
        let owned;
        let src = match src.and_then(|s| s.get(..usize::try_from(plan.size).ok()?)) {
            Some(s) => Some(s),
            None if plan.size <= BULK_READ => match self.dec.mem.read_vec_capped(addr, plan.size, usize::MAX) {
                Ok(v) => {
                    owned = v;
                    Some(owned.as_slice())
                }
                // Nothing there at all: one node says so. Otherwise each part
                // is read on its own and only the unreadable ones fail.
                Err(e) if !self.dec.mem.is_mapped(addr, 1) => {
                    return Value::unreadable(addr, ValueError::memory("value", addr, e))
                }
                Err(_) => None,
            },
            None => None,
        };
        match &plan.shape {
            Shape::Struct { fields } => {
                let mut out = Vec::with_capacity(fields.len());
                for f in fields {
                    let faddr = addr.wrapping_add(f.offset);
                    let value = match f.ty.get(&self.dec.plans, self.dec.bin) {
                        Ok(p) => {
                            let p = Arc::clone(p);
                            let sub = sub_bytes(src, f.offset, p.size);
                            self.value(faddr, &p, sub, depth + 1, false)
                        }
                        Err(e) => Value::unreadable(faddr, e.clone()),
                    };
                    out.push(FieldValue {
                        name: Arc::clone(&f.name),
                        value,
                    });
                }
                Value::new(addr, ValueKind::Struct { fields: out })
            }
            Shape::Array { elem, len, stride } => {
                let p = match elem.get(&self.dec.plans, self.dec.bin) {
                    Ok(p) => Arc::clone(p),
                    Err(e) => return Value::unreadable(addr, e.clone()),
                };
                let elems = self.elements(addr, &p, *len, *stride, src, depth);
                Value::new(addr, ValueKind::Array { elems, len: *len })
            }
            _ => self.unsupported(addr, plan),
        }
    }

    /// Up to `max_elems` elements of `len` at `base`, `stride` apart.
    fn elements(&mut self, base: u64, p: &Plan, len: u64, stride: u64, src: Option<&[u8]>, depth: u32) -> Vec<Value> {
        let n = len.min(self.dec.limits.max_elems);
        let mut out = Vec::with_capacity(usize::try_from(n.min(4096)).unwrap_or(0));
        for i in 0..n {
            if self.over_budget() {
                break;
            }
            let off = i.wrapping_mul(stride);
            let sub = sub_bytes(src, off, p.size);
            out.push(self.value(base.wrapping_add(off), p, sub, depth + 1, false));
        }
        out
    }

    fn slice(&mut self, addr: u64, [data, len, cap]: [u64; 3], elem: &super::plan::Child, depth: u32) -> Value {
        let mk = |elems| ValueKind::Slice { data, len, cap, elems };
        if data == 0 || len == 0 {
            return Value::new(addr, mk(Vec::new()));
        }
        if self.inside.contains(&data) {
            return Value::new(addr, ValueKind::Elided(Elision::Cycle));
        }
        let p = match elem.get(&self.dec.plans, self.dec.bin) {
            Ok(p) => Arc::clone(p),
            Err(e) => return Value::unreadable(addr, e.clone()),
        };
        let n = len.min(self.dec.limits.max_elems);
        let bytes = n.checked_mul(p.size).filter(|&b| b <= BULK_READ);
        let owned = match bytes {
            Some(b) => match self.dec.mem.read_vec_capped(data, b, usize::MAX) {
                Ok(v) => Some(v),
                Err(e) if !self.dec.mem.is_mapped(data, 1) => {
                    return Value::unreadable(addr, ValueError::memory("slice elements", data, e))
                }
                Err(_) => None,
            },
            None => None,
        };
        self.inside.push(data);
        let elems = self.elements(data, &p, n, p.size, owned.as_deref(), depth);
        self.inside.pop();
        Value::new(addr, mk(elems))
    }
}

/// The bytes of a part at `off` of `size` within its parent's bytes.
fn sub_bytes(src: Option<&[u8]>, off: u64, size: u64) -> Option<&[u8]> {
    let s = usize::try_from(off).ok()?;
    let e = s.checked_add(usize::try_from(size).ok()?)?;
    src?.get(s..e)
}
