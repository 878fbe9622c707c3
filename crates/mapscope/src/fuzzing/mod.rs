//! The fuzz harnesses' bodies, shared by the cargo-fuzz targets in `fuzz/`
//! and by the regression test that replays every input kept in
//! `fuzz/regressions/`. Each takes arbitrary bytes and must return.

use std::sync::Arc;

use crate::binary::{GoBinary, MapVariant};
use crate::layout::RuntimeLayout;
use crate::maps::{MapHandle, MapShape, SlotLayout};
use crate::memory::{CoreFile, Memory, MemoryExt, SliceMemory};

/// Any bytes as a Go executable: every lookup must return.
pub fn binary_parse(data: &[u8]) {
    let Ok(bin) = GoBinary::parse(data.to_vec()) else {
        return;
    };
    let info = bin.info();
    let _ = bin.build_info();
    for f in bin.functions().take(256).flatten() {
        let _ = bin.line_for_pc(f.entry);
    }
    let _ = bin.func_for_pc(info.functions as u64);
    if let Ok(types) = bin.map_types() {
        for t in types.iter().take(64) {
            let _ = crate::layout::types::map_container(&bin, t);
        }
    }
    let _ = bin.globals();
}

/// Any bytes as an ELF core: opening and reading must return.
pub fn core_parse(data: &[u8]) {
    let Ok(core) = CoreFile::from_bytes(Arc::new(data.to_vec())) else {
        return;
    };
    let _ = core.executable_path();
    for r in core.regions().into_iter().take(64) {
        let _ = core.read_u64(r.start);
        let _ = core.read_available(r.end.saturating_sub(3), 16);
    }
}

const BASE: u64 = 0xc000_0000;

/// Any bytes as a process image holding a map: the walk must end, within
/// bounds, with entries or a typed error. The first 8 bytes choose the
/// runtime and the shape; the rest is memory at `BASE`.
pub fn maps_walk(data: &[u8]) {
    let Some((head, image)) = data.split_at_checked(8) else {
        return;
    };
    let byte = |i: usize| head.get(i).copied().unwrap_or(0);
    let swiss = byte(0) & 1 == 1;
    let key = u64::from(byte(1) % 160) + 1;
    let elem = u64::from(byte(2) % 160);
    let (ik, ie) = (byte(3) & 1 == 1, byte(3) & 2 == 2);
    let slot = |s: u64, ind: bool| if ind { 8 } else { s };
    let shape = if swiss {
        let stride = slot(key, ik) + slot(elem, ie);
        MapShape {
            key_size: key,
            elem_size: elem,
            indirect_key: ik,
            indirect_elem: ie,
            slots: SlotLayout::Swiss {
                group_size: 8 + 8 * stride,
                keys_off: 8,
                key_stride: stride,
                elems_off: 8 + slot(key, ik),
                elem_stride: stride,
            },
        }
    } else {
        let (ks, vs) = (slot(key, ik), slot(elem, ie));
        MapShape::classic(key, elem, ik, ie, 8 + 8 * ks + 8 * vs + 8, ks, vs)
    };
    let Ok(mem) = SliceMemory::new().with(BASE, image.to_vec()) else {
        return;
    };
    let mem: Arc<dyn Memory> = Arc::new(mem);
    let layout = RuntimeLayout::for_build(u32::from(byte(4) % 10) + 19, swiss);
    let variant = if swiss { MapVariant::Swiss } else { MapVariant::Classic };
    let header = BASE + u64::from(byte(5)) * 8;
    let Ok(map) = MapHandle::open(mem, &layout, variant, header, shape) else {
        return;
    };
    let _ = map.stats();
    for e in map.entries().take(1 << 16) {
        if e.is_err() {
            break;
        }
    }
}

mod sections;
mod values;

pub use sections::{binary_sections, SectionsBase};
pub use values::{values_decode, BaseMap, ValuesBase};

/// Reads a fuzz input as a stream of fields; an exhausted input reads as
/// zeros, so every byte string is a valid (if short) program.
struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn bytes(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }

    fn u8(&mut self) -> u8 {
        self.bytes(1).first().copied().unwrap_or(0)
    }

    fn u16(&mut self) -> u16 {
        u16::from(self.u8()) | u16::from(self.u8()) << 8
    }

    fn u32(&mut self) -> u32 {
        u32::from(self.u16()) | u32::from(self.u16()) << 16
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | u64::from(self.u32()) << 32
    }
}
