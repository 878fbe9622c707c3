//! A memory source with some bytes replaced: damage to a real core without
//! copying it, shared by the corruption tests.

use std::collections::BTreeMap;
use std::sync::Arc;

use mapscope::memory::{Memory, MemoryError, Region};

/// A memory source with some bytes replaced: damage without copying a core.
pub struct Patched {
    pub base: Arc<dyn Memory>,
    pub patches: BTreeMap<u64, u8>,
}

impl Patched {
    pub fn word(&mut self, addr: u64, v: u64) {
        for (i, b) in v.to_le_bytes().into_iter().enumerate() {
            self.patches.insert(addr + i as u64, b);
        }
    }
}

impl Memory for Patched {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        self.base.read(addr, buf)?;
        for (&a, &b) in self.patches.range(addr..addr.saturating_add(buf.len() as u64)) {
            buf[(a - addr) as usize] = b;
        }
        Ok(())
    }
    fn regions(&self) -> Vec<Region> {
        self.base.regions()
    }
    fn is_mapped(&self, addr: u64, len: u64) -> bool {
        self.base.is_mapped(addr, len)
    }
}
