//! The key being looked up, placed "in" the target's memory. A key typed by
//! the user has parts the target never held (a string's bytes, the value an
//! interface points at); putting them at addresses no real process can map
//! lets the one hasher, the one equality and the one value renderer serve
//! both the user's key and the keys stored in the map.

use std::sync::Arc;

use crate::memory::{Memory, MemoryError, Region};

/// Non-canonical on amd64 and outside arm64's 48-bit user space: never a
/// real address, so the overlay cannot shadow the target.
pub const OVERLAY_BASE: u64 = 0x7eed_0000_0000_0000;

/// The target's memory plus a few synthetic regions. A read is served by a
/// region only when it lies wholly inside it; any other read goes to the
/// target.
pub struct Overlay {
    base: Arc<dyn Memory>,
    regions: Vec<(u64, Vec<u8>)>,
}

impl Overlay {
    pub fn new(base: Arc<dyn Memory>, regions: Vec<(u64, Vec<u8>)>) -> Self {
        Overlay { base, regions }
    }

    fn find(&self, addr: u64, len: usize) -> Option<&[u8]> {
        self.regions.iter().find_map(|(start, bytes)| {
            let off = usize::try_from(addr.checked_sub(*start)?).ok()?;
            bytes.get(off..off.checked_add(len)?)
        })
    }
}

impl Memory for Overlay {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        match self.find(addr, buf.len()) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => self.base.read(addr, buf),
        }
    }

    fn regions(&self) -> Vec<Region> {
        self.base.regions()
    }

    fn is_mapped(&self, addr: u64, len: u64) -> bool {
        usize::try_from(len).ok().and_then(|n| self.find(addr, n)).is_some() || self.base.is_mapped(addr, len)
    }

    fn byte_order(&self) -> crate::memory::ByteOrder {
        self.base.byte_order()
    }

    fn pointer_size(&self) -> usize {
        self.base.pointer_size()
    }
}
