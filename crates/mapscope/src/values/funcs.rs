//! Func values: the word points at a `runtime.funcval` whose first word is
//! the code pointer (what fmt prints); a closure's captured variables follow.

use super::decode::Walk;
use super::value::{Captured, FuncSymbol, FuncValue, Value, ValueKind};
use crate::memory::MemoryExt;

impl Walk<'_, '_> {
    pub(crate) fn func(&mut self, addr: u64, funcval: u64) -> Value {
        if funcval == 0 {
            return Value::new(addr, ValueKind::Func(None));
        }
        let pc = match self.read_word(funcval, "funcval") {
            Ok(pc) => pc,
            Err(e) => return Value::unreadable(addr, e),
        };
        let symbol = self.dec.bin.line_for_pc(pc).map(|l| FuncSymbol {
            name: l.function,
            file: l.file,
            line: l.line,
            entry: l.entry,
        });
        // Funcvals the linker made (top-level funcs, closures that capture
        // nothing) are one word in the executable's read-only data.
        let captured = if self.dec.bin.read_at(funcval, 8).is_ok() {
            Captured::Static
        } else {
            let mut words = Vec::new();
            for i in 1..=u64::from(self.dec.limits.closure_words) {
                match self.dec.mem.read_u64(funcval.wrapping_add(8 * i)) {
                    Ok(w) => words.push(w),
                    Err(_) => break,
                }
            }
            Captured::RawWords(words)
        };
        let f = FuncValue {
            funcval,
            pc,
            symbol,
            captured,
        };
        Value::new(addr, ValueKind::Func(Some(Box::new(f))))
    }
}
