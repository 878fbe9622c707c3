//! The one table of the runtime's map functions: which entry points the
//! compiler (cmd/compile/internal/typecheck/_builtin/runtime.go, walk/*.go)
//! and the standard library (reflect, internal/reflectlite, maps) call, what
//! operation each is, and what the Go register ABI puts in which register on
//! entry. Names are matched after the package prefix, so one row covers the
//! classic `runtime.mapaccess1_faststr` (≤1.23 and noswissmap), the Swiss
//! body linked to the same name (1.24+: `internal/runtime/maps.runtime_*`
//! carries `//go:linkname … runtime.mapaccess1_faststr`, so pclntab shows the
//! runtime name), and reflect's linknamed twins (`reflect.mapaccess`).

use serde::Serialize;

/// What a call does to a map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MapOp {
    Access,
    Assign,
    Delete,
    Iterate,
    Make,
    Clear,
}

impl MapOp {
    pub fn as_str(self) -> &'static str {
        match self {
            MapOp::Access => "access",
            MapOp::Assign => "assign",
            MapOp::Delete => "delete",
            MapOp::Iterate => "iterate",
            MapOp::Make => "make",
            MapOp::Clear => "clear",
        }
    }
}

/// What an argument register holds on entry (ABIInternal: RAX, RBX, RCX, RDI,
/// RSI, R8, R9, R10, R11 in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arg {
    /// `*maptype` / `*abi.MapType` / `*abi.SwissMapType`.
    MapType,
    /// `*hmap` or `*maps.Map`.
    Header,
    /// `*maps.table`.
    Table,
    /// Anything we do not follow (keys, hints, iterators).
    Other,
}

use Arg::{Header as H, MapType as T, Other as O, Table as TB};

/// One row: the name without its package, the operation when it is an
/// entry point user code calls, and the entry registers.
pub struct MapFunc {
    pub name: &'static str,
    pub op: Option<MapOp>,
    pub args: &'static [Arg],
}

const fn row(name: &'static str, op: Option<MapOp>, args: &'static [Arg]) -> MapFunc {
    MapFunc { name, op, args }
}

const ACC: Option<MapOp> = Some(MapOp::Access);
const ASG: Option<MapOp> = Some(MapOp::Assign);
const DEL: Option<MapOp> = Some(MapOp::Delete);
const ITR: Option<MapOp> = Some(MapOp::Iterate);
const MK: Option<MapOp> = Some(MapOp::Make);
const CLR: Option<MapOp> = Some(MapOp::Clear);
const TH: &[Arg] = &[T, H];

/// Every version 1.19 … 1.27; a name a version lacks simply never matches.
pub static MAP_FUNCS: &[MapFunc] = &[
    // Entry points the compiler emits (all versions).
    row("mapaccess1", ACC, TH),
    row("mapaccess2", ACC, TH),
    row("mapaccess1_fast32", ACC, TH),
    row("mapaccess2_fast32", ACC, TH),
    row("mapaccess1_fast64", ACC, TH),
    row("mapaccess2_fast64", ACC, TH),
    row("mapaccess1_faststr", ACC, TH),
    row("mapaccess2_faststr", ACC, TH),
    // Elems > 1024 bytes: walk.go passes a zero value of the elem's size.
    row("mapaccess1_fat", ACC, TH),
    row("mapaccess2_fat", ACC, TH),
    row("mapaccessK", ACC, TH),
    row("mapassign", ASG, TH),
    row("mapassign_fast32", ASG, TH),
    row("mapassign_fast32ptr", ASG, TH),
    row("mapassign_fast64", ASG, TH),
    row("mapassign_fast64ptr", ASG, TH),
    row("mapassign_faststr", ASG, TH),
    row("mapdelete", DEL, TH),
    row("mapdelete_fast32", DEL, TH),
    row("mapdelete_fast64", DEL, TH),
    row("mapdelete_faststr", DEL, TH),
    // Classic iteration (≤1.23, noswissmap); `mapiternext(it)` takes only the iterator.
    row("mapiterinit", ITR, &[T, H, O]),
    row("mapiternext", ITR, &[O]),
    // Swiss iteration (1.24+: walk/range.go picks these under the swissmap experiment).
    row("mapIterStart", ITR, &[T, H, O]),
    row("mapIterNext", ITR, &[O]),
    row("makemap", MK, &[T, O, H]),
    row("makemap64", MK, &[T, O, H]),
    row("makemap_small", MK, &[]),
    // 1.21+: staticinit outlines big global map literals into map.init.N
    // functions; `mapinitnoop` is the marker the linker drops them by.
    row("mapinitnoop", MK, &[]),
    row("mapclear", CLR, TH),
    // reflect / reflectlite / maps twins, linknamed into the runtime.
    row("mapaccess", ACC, TH),
    row("mapaccess_faststr", ACC, TH),
    row("mapassign0", ASG, TH),
    row("mapassign_faststr0", ASG, TH),
    row("mapiterkey", ITR, &[O]),
    row("mapiterelem", ITR, &[O]),
    row("maplen", ACC, &[H]),
    row("mapclone", MK, &[O]),
    row("clone", MK, &[O]),
    // Classic internals (runtime/map.go, map_fast*.go, map_noswiss.go).
    row("evacuate", None, TH),
    row("evacuate_fast32", None, TH),
    row("evacuate_fast64", None, TH),
    row("evacuate_faststr", None, TH),
    row("growWork", None, TH),
    row("growWork_fast32", None, TH),
    row("growWork_fast64", None, TH),
    row("growWork_faststr", None, TH),
    row("hashGrow", None, TH),
    row("advanceEvacuationMark", None, &[H, T]),
    row("makeBucketArray", None, &[T]),
    row("(*hmap).newoverflow", None, &[H, T]),
    row("(*hmap).incrnoverflow", None, &[H]),
    row("(*hmap).createOverflow", None, &[H]),
    row("(*hmap).growing", None, &[H]),
    row("(*hmap).sameSizeGrow", None, &[H]),
    row("(*hmap).noldbuckets", None, &[H]),
    row("(*hmap).oldbucketmask", None, &[H]),
    row("bucketEvacuated", None, TH),
    row("mapKeyError2", None, &[T]),
    row("mapKeyError", None, &[T]),
    // Swiss internals (internal/runtime/maps): methods take the receiver first.
    row("NewMap", None, &[T, O, H]),
    row("NewEmptyMap", None, &[]),
    row("newTable", None, &[T]),
    row("(*Map).getWithKey", None, &[H, T]),
    row("(*Map).getWithKeySmall", None, &[H, T]),
    row("(*Map).getWithoutKeySmallFastStr", None, &[H, T]),
    row("(*Map).putSlotSmall", None, &[H, T]),
    row("(*Map).putSlotSmallFast32", None, &[H, T]),
    row("(*Map).putSlotSmallFast64", None, &[H, T]),
    row("(*Map).putSlotSmallFastPtr", None, &[H, T]),
    row("(*Map).putSlotSmallFastStr", None, &[H, T]),
    row("(*Map).growToSmall", None, &[H, T]),
    row("(*Map).growToTable", None, &[H, T]),
    row("(*Map).installTableSplit", None, &[H, TB]),
    row("(*Map).Delete", None, &[H, T]),
    row("(*Map).deleteSmall", None, &[H, T]),
    row("(*Map).Clear", None, &[H, T]),
    row("(*Map).clearSmall", None, &[H, T]),
    row("(*Map).Get", None, &[H, T]),
    row("(*Map).Put", None, &[H, T]),
    row("(*Map).PutSlot", None, &[H, T]),
    row("(*Map).Used", None, &[H]),
    row("(*Map).directoryAt", None, &[H]),
    row("(*Map).directoryIndex", None, &[H]),
    row("(*Map).directorySet", None, &[H]),
    row("(*Map).Clone", None, &[H, T]),
    row("(*table).getWithKey", None, &[TB, T]),
    row("(*table).getWithoutKey", None, &[TB, T]),
    row("(*table).PutSlot", None, &[TB, T, H]),
    row("(*table).uncheckedPutSlot", None, &[TB, T]),
    row("(*table).uncheckedPutSlotForAssign", None, &[TB, T]),
    row("(*table).uncheckedPutSlotForAssignFast32", None, &[TB, T]),
    row("(*table).uncheckedPutSlotForAssignFast64", None, &[TB, T]),
    row("(*table).uncheckedPutSlotForAssignFastPtr", None, &[TB, T]),
    row("(*table).uncheckedPutSlotForAssignFastStr", None, &[TB, T]),
    row("(*table).Delete", None, &[TB, T, H]),
    row("(*table).grow", None, &[TB, T, H]),
    row("(*table).rehash", None, &[TB, T, H]),
    row("(*table).split", None, &[TB, T, H]),
    row("(*table).reset", None, &[TB, T]),
    row("(*table).pruneTombstones", None, &[TB, T, H]),
    row("(*table).Clear", None, &[TB, T]),
    row("(*Iter).Init", None, &[O, T, H]),
    row("(*Iter).Next", None, &[O]),
    row("(*Iter).grownKeyElem", None, &[O]),
];

/// Packages whose functions hold the runtime's map code or linknamed twins of it.
const PACKAGES: &[&str] = &[
    "runtime.",
    "internal/runtime/maps.",
    "reflect.",
    "internal/reflectlite.",
    "maps.",
];

/// The table row for a function name as pclntab spells it, if it is one of
/// the runtime's map functions.
pub fn lookup(full: &str) -> Option<&'static MapFunc> {
    let pkg = PACKAGES.iter().find(|p| full.starts_with(*p))?;
    let rest = full.get(pkg.len()..)?;
    // The Swiss bodies' Go names (`runtime_mapaccess1`) if a build keeps them.
    let rest = if *pkg == "internal/runtime/maps." {
        rest.strip_prefix("runtime_").unwrap_or(rest)
    } else {
        rest
    };
    let row = MAP_FUNCS.iter().find(|r| r.name == rest)?;
    // `maps.clone` is the only row of package maps; `clone` elsewhere is not ours.
    let only_maps = row.name == "clone";
    (only_maps == (*pkg == "maps.")).then_some(row)
}

/// True for code that belongs to the runtime (call sites are looked for in
/// everything else).
pub fn is_runtime(name: &str) -> bool {
    name.starts_with("runtime.") || name.starts_with("internal/runtime/")
}

/// Any function of the Swiss map package is map code, even ones not in the
/// table (their entry registers are then unknown).
pub fn is_map_package(name: &str) -> bool {
    name.starts_with("internal/runtime/maps.")
}

/// The string-key lookup as the compiler calls it (`m["k"]`).
pub const STRING_LOOKUP: &str = "runtime.mapaccess1_faststr";
/// The same for a build that kept the Swiss body's own name.
pub const STRING_LOOKUP_SWISS: &str = "internal/runtime/maps.runtime_mapaccess1_faststr";

/// Key size the fast variants are specialised for (`_fast32`, `_fast64`,
/// `_faststr`), which tells where a bucket's keys end.
pub fn fast_key_size(name: &str) -> Option<u64> {
    if name.contains("faststr") || name.contains("FastStr") {
        Some(16)
    } else if name.contains("fast64") || name.contains("Fast64") || name.contains("FastPtr") {
        Some(8)
    } else if name.contains("fast32") || name.contains("Fast32") {
        Some(4)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_package() {
        assert_eq!(
            lookup("runtime.mapassign_faststr").and_then(|r| r.op),
            Some(MapOp::Assign)
        );
        assert_eq!(
            lookup("internal/runtime/maps.runtime_mapaccess1_faststr").and_then(|r| r.op),
            Some(MapOp::Access)
        );
        assert_eq!(lookup("reflect.mapiterinit").and_then(|r| r.op), Some(MapOp::Iterate));
        assert_eq!(lookup("maps.clone").and_then(|r| r.op), Some(MapOp::Make));
        assert!(lookup("runtime.clone").is_none());
        assert!(lookup("main.mapassign").is_none());
        assert!(lookup("internal/runtime/maps.(*table).grow").is_some_and(|r| r.op.is_none()));
    }
}
