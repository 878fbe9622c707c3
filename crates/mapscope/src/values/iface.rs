//! Interface values: `eface {type, data}` for `interface{}`, `iface {itab,
//! data}` otherwise (`itab.Type` is its second word in every version from
//! 1.19 to 1.27). The data word holds the value itself for direct-interface
//! (pointer-shaped) types — the descriptor says which, see
//! [`GoBinary::runtime_type_direct_iface`](crate::binary::GoBinary::runtime_type_direct_iface) —
//! and points at it otherwise.

use std::sync::Arc;

use super::decode::Walk;
use super::value::{Dynamic, Value, ValueKind};

/// Offset of `Type` in `runtime.itab` / `abi.ITab`.
const ITAB_TYPE: u64 = 8;

impl Walk<'_, '_> {
    pub(crate) fn interface(&mut self, addr: u64, w0: u64, data: u64, empty: bool, depth: u32, top: bool) -> Value {
        if w0 == 0 {
            return Value::new(addr, ValueKind::Interface(None));
        }
        let type_addr = if empty {
            w0
        } else {
            match self.read_word(w0.wrapping_add(ITAB_TYPE), "itab type") {
                Ok(t) => t,
                Err(e) => return Value::unreadable(addr, e),
            }
        };
        let plan = match self.dec.plans.by_runtime_addr(self.dec.bin, type_addr) {
            Ok(p) => p,
            Err(e) => return Value::unreadable(addr, e),
        };
        // fmt is handed the dynamic value itself, so a top-level interface's
        // value is still at fmt's depth 0.
        let value = if plan.direct_iface {
            let word = self.dec.word_bytes(data);
            self.value(addr.wrapping_add(8), &plan, Some(&word), depth + 1, top)
        } else {
            self.value(data, &plan, None, depth + 1, top)
        };
        let dynamic = Dynamic {
            type_addr,
            type_name: Arc::clone(&plan.name),
            value,
        };
        Value::new(addr, ValueKind::Interface(Some(Box::new(dynamic))))
    }
}
