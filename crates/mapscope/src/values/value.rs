//! The decoded value tree: what the bytes meant, plus the side data the JSON
//! contract carries (addresses, func symbols, dynamic types).

use std::sync::Arc;

use super::error::ValueError;

/// One decoded Go value.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    /// Where the value lives in the target. For a value held directly in an
    /// interface's data word, the address of that word.
    pub addr: u64,
    pub kind: ValueKind,
}

/// What a value is, by Go kind. Nil is a state of the kinds that have it.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueKind {
    Bool(bool),
    /// Every signed kind, sign-extended.
    Int(i64),
    /// Every unsigned kind, uintptr included.
    Uint(u64),
    Float32(f32),
    Float64(f64),
    Complex64(f32, f32),
    Complex128(f64, f64),
    /// The string's bytes (any bytes: Go strings need not be UTF-8), at most
    /// `Limits::max_string_bytes` of its `len`.
    String {
        bytes: Vec<u8>,
        len: u64,
    },
    /// At most `Limits::max_elems` of the array's `len` elements.
    Array {
        elems: Vec<Value>,
        len: u64,
    },
    /// A nil slice has `data == 0`; `elems` holds at most `Limits::max_elems`.
    Slice {
        data: u64,
        len: u64,
        cap: u64,
        elems: Vec<Value>,
    },
    Struct {
        fields: Vec<FieldValue>,
    },
    /// `target` is decoded only where fmt prints the pointee: a non-nil
    /// pointer to an array, slice, struct or map at the top level (`&{1 one}`).
    /// Deeper pointers print as addresses, which also makes cycles harmless.
    Pointer {
        ptr: u64,
        target: Option<Box<Value>>,
    },
    UnsafePointer(u64),
    /// The channel's `hchan` address (0 for nil).
    Chan(u64),
    /// `None` for a nil func.
    Func(Option<Box<FuncValue>>),
    /// `entries` are in fmt's order (`internal/fmtsort`); a nil map has
    /// `header == 0`. `len` is the header's count; fewer entries than that
    /// means the walk stopped (`error`) or hit `Limits::max_elems`.
    Map {
        header: u64,
        len: u64,
        entries: Vec<(Value, Value)>,
        error: Option<Box<ValueError>>,
    },
    /// `None` for a nil interface.
    Interface(Option<Box<Dynamic>>),
    /// Not decoded, to keep the traversal bounded.
    Elided(Elision),
    /// This part could not be read; the rest of the value still is.
    Unreadable(Box<ValueError>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FieldValue {
    pub name: Arc<str>,
    pub value: Value,
}

/// The value an interface holds, with its dynamic type.
#[derive(Debug, Clone, PartialEq)]
pub struct Dynamic {
    /// The dynamic type's runtime descriptor (fmtsort orders interface keys by it).
    pub type_addr: u64,
    pub type_name: Arc<str>,
    pub value: Value,
}

/// A non-nil func value.
#[derive(Debug, Clone, PartialEq)]
pub struct FuncValue {
    /// The func value word: the address of the `runtime.funcval`.
    pub funcval: u64,
    /// The funcval's first word, the code pointer fmt prints.
    pub pc: u64,
    /// From the pclntab, when `pc` is inside a known function.
    pub symbol: Option<FuncSymbol>,
    pub captured: Captured,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FuncSymbol {
    /// `runtime.FuncForPC(pc).Name()`.
    pub name: String,
    /// File and line of the function's entry, as `Func.FileLine(Entry())`.
    pub file: Option<String>,
    pub line: Option<u32>,
    pub entry: u64,
}

/// What follows `fn` in the funcval: a closure's captured variables. The
/// func type does not say how many there are, so they are raw words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Captured {
    /// The funcval lives in the executable's read-only data (`pkg.F·f`, or a
    /// closure capturing nothing): it is one word, nothing is captured.
    Static,
    /// The funcval is in the heap. These are the words after `fn`, up to
    /// `Limits::closure_words` and stopping at unreadable memory; how many of
    /// them belong to the closure is not known (the allocation is rounded to
    /// a size class, and captures may be fewer).
    RawWords(Vec<u64>),
}

/// Why part of a value was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elision {
    /// Nested deeper than `Limits::max_depth`.
    Depth,
    /// The decode call already produced `Limits::max_nodes` nodes.
    Budget,
    /// A map or slice that contains itself (through an interface).
    Cycle,
}

impl Value {
    pub(crate) fn new(addr: u64, kind: ValueKind) -> Value {
        Value { addr, kind }
    }

    pub(crate) fn unreadable(addr: u64, e: ValueError) -> Value {
        Value::new(addr, ValueKind::Unreadable(Box::new(e)))
    }

    /// True when nothing in the tree was truncated, elided or unreadable, so
    /// the rendering is exactly what `fmt.Sprint` prints.
    pub fn is_complete(&self) -> bool {
        match &self.kind {
            ValueKind::String { bytes, len } => bytes.len() as u64 == *len,
            ValueKind::Array { elems, len } => elems.len() as u64 == *len && elems.iter().all(Value::is_complete),
            ValueKind::Slice { elems, len, .. } => elems.len() as u64 == *len && elems.iter().all(Value::is_complete),
            ValueKind::Struct { fields } => fields.iter().all(|f| f.value.is_complete()),
            ValueKind::Pointer { target, .. } => target.as_ref().map_or(true, |t| t.is_complete()),
            ValueKind::Map {
                len, entries, error, ..
            } => {
                error.is_none()
                    && entries.len() as u64 == *len
                    && entries.iter().all(|(k, v)| k.is_complete() && v.is_complete())
            }
            ValueKind::Interface(d) => d.as_ref().map_or(true, |d| d.value.is_complete()),
            ValueKind::Elided(_) | ValueKind::Unreadable(_) => false,
            _ => true,
        }
    }

    /// The func this value is, seen through interfaces (for the JSON `func`).
    pub fn func(&self) -> Option<&FuncValue> {
        match &self.kind {
            ValueKind::Func(f) => f.as_deref(),
            ValueKind::Interface(Some(d)) => d.value.func(),
            _ => None,
        }
    }

    /// For a map value (also inside an interface): the inner map's header
    /// address (0 for a nil map) and its count, so that it can be shown
    /// on its own (`show 0xHEADER:TYPE`).
    pub fn map_header(&self) -> Option<(u64, u64)> {
        match &self.kind {
            ValueKind::Map { header, len, .. } => Some((*header, *len)),
            ValueKind::Interface(Some(d)) => d.value.map_header(),
            _ => None,
        }
    }

    /// The dynamic type's name, for an interface value.
    pub fn dynamic_type(&self) -> Option<&str> {
        match &self.kind {
            ValueKind::Interface(Some(d)) => Some(&d.type_name),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_stays_small() {
        // Millions of values are built per map: keep the node compact.
        assert!(
            std::mem::size_of::<super::Value>() <= 64,
            "{}",
            std::mem::size_of::<super::Value>()
        );
    }
}
