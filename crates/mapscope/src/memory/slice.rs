//! Memory held in RAM as a set of `(address, bytes)` regions: for tests, fuzzing
//! and synthetic maps.

use std::sync::Arc;

use super::error::{checked_end, MemoryError};
use super::region::{find_region, Backing, Permissions, Region};
use super::spans::{read_spans, Span, SpanTable};
use super::{ByteOrder, Memory};

#[derive(Clone, Debug)]
pub struct SliceMemory {
    table: SpanTable<Arc<[u8]>>,
    regions: Vec<Region>,
    byte_order: ByteOrder,
    pointer_size: usize,
}

impl Default for SliceMemory {
    fn default() -> Self {
        SliceMemory {
            table: SpanTable::default(),
            regions: Vec::new(),
            byte_order: ByteOrder::Little,
            pointer_size: 8,
        }
    }
}

impl SliceMemory {
    /// An empty little-endian, 64-bit address space.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `bytes` at `addr`. Fails if the region wraps the address space or
    /// overlaps one already added. Regions that touch read as one.
    pub fn add(&mut self, addr: u64, bytes: impl Into<Vec<u8>>) -> Result<(), MemoryError> {
        let bytes: Vec<u8> = bytes.into();
        if bytes.is_empty() {
            return Ok(());
        }
        let end = checked_end(addr, bytes.len())?;
        if self.table.iter().any(|s| s.start < end && addr < s.end) {
            return Err(MemoryError::malformed(
                "slice memory",
                format!("region {addr:#x}..{end:#x} overlaps an existing region"),
            ));
        }
        let mut spans: Vec<Span<Arc<[u8]>>> = self.table.iter().cloned().collect();
        spans.push(Span {
            start: addr,
            end,
            value: Arc::from(bytes),
        });
        self.table = SpanTable::build(spans, |_, _| None);
        self.regions = self
            .table
            .iter()
            .map(|s| Region {
                start: s.start,
                end: s.end,
                perms: Permissions::READ_WRITE,
                backing: Backing::Anonymous,
            })
            .collect();
        Ok(())
    }

    /// Builder form of [`SliceMemory::add`].
    pub fn with(mut self, addr: u64, bytes: impl Into<Vec<u8>>) -> Result<Self, MemoryError> {
        self.add(addr, bytes)?;
        Ok(self)
    }

    pub fn with_byte_order(mut self, order: ByteOrder) -> Self {
        self.byte_order = order;
        self
    }

    /// Pointer size in bytes; anything but 4 means 8.
    pub fn with_pointer_size(mut self, size: usize) -> Self {
        self.pointer_size = if size == 4 { 4 } else { 8 };
        self
    }
}

impl Memory for SliceMemory {
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), MemoryError> {
        let (want, len) = (addr, buf.len());
        read_spans(&self.table, addr, buf, |span, off, out, at| {
            let src = usize::try_from(off)
                .ok()
                .and_then(|o| span.value.get(o..o.checked_add(out.len())?))
                .ok_or_else(|| MemoryError::unmapped(want, len, at))?;
            out.copy_from_slice(src);
            Ok(())
        })
    }

    fn regions(&self) -> Vec<Region> {
        self.regions.clone()
    }

    fn region_at(&self, addr: u64) -> Option<Region> {
        find_region(&self.regions, addr).cloned()
    }

    fn is_mapped(&self, addr: u64, len: u64) -> bool {
        self.table.covers(addr, len, |_| true)
    }

    fn byte_order(&self) -> ByteOrder {
        self.byte_order
    }

    fn pointer_size(&self) -> usize {
        self.pointer_size
    }
}
