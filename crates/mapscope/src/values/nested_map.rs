//! A map inside a value (a map elem, a struct field, an interface's dynamic
//! value): walked with [`MapHandle`], every entry decoded, then sorted the
//! way fmt prints maps.

use super::decode::Walk;
use super::error::ValueError;
use super::fmtsort::sort_entries;
use super::plan::MapPlan;
use super::value::{Elision, Value, ValueKind};
use crate::maps::MapHandle;

impl Walk<'_, '_> {
    pub(crate) fn map(&mut self, addr: u64, header: u64, mp: &MapPlan, depth: u32) -> Value {
        let empty = |error| ValueKind::Map {
            header,
            len: 0,
            entries: Vec::new(),
            error,
        };
        if header == 0 {
            return Value::new(addr, empty(None));
        }
        if self.inside.contains(&header) {
            return Value::new(addr, ValueKind::Elided(Elision::Cycle));
        }
        let fail = |message: String| Value::unreadable(addr, ValueError::Map { addr: header, message });
        let shape = match &mp.shape {
            Ok(s) => *s,
            Err(e) => return Value::unreadable(addr, e.clone()),
        };
        let Some((layout, variant)) = self.dec.runtime() else {
            return fail("the binary's map runtime (Go version, variant) is unknown".into());
        };
        let (kp, ep) = match (
            mp.key.get(&self.dec.plans, self.dec.bin),
            mp.elem.get(&self.dec.plans, self.dec.bin),
        ) {
            (Ok(k), Ok(e)) => (std::sync::Arc::clone(k), std::sync::Arc::clone(e)),
            (Err(e), _) | (_, Err(e)) => return Value::unreadable(addr, e.clone()),
        };
        let handle = match MapHandle::open(self.dec.mem.clone(), &layout, variant, header, shape) {
            Ok(h) => h,
            Err(e) => return fail(e.to_string()),
        };
        let len = handle.header_len();
        let mut entries = Vec::new();
        let mut error = None;
        self.inside.push(header);
        for e in handle.entries() {
            if entries.len() as u64 >= self.dec.limits.max_elems || self.over_budget() {
                break;
            }
            match e {
                Ok(e) => {
                    let k = self.value(e.key, &kp, None, depth + 1, false);
                    let v = self.value(e.elem, &ep, None, depth + 1, false);
                    entries.push((k, v));
                }
                Err(e) => {
                    error = Some(Box::new(ValueError::Map {
                        addr: header,
                        message: e.to_string(),
                    }));
                    break;
                }
            }
        }
        self.inside.pop();
        sort_entries(&mut entries);
        Value::new(
            addr,
            ValueKind::Map {
                header,
                len,
                entries,
                error,
            },
        )
    }
}
