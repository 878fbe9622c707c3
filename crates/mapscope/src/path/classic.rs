//! A classic map's lookup, read by read, as `runtime.mapaccess1` makes it:
//! `hash & (2^B-1)` picks the bucket; while the map grows, the old bucket is
//! searched instead unless it is already evacuated (its `tophash[0]` is an
//! evacuation mark); then each bucket of the chain is scanned for the
//! tophash, stopping at `emptyRest`, and candidates are compared by key.

use std::collections::HashSet;

use super::{Found, Lookup, PathError, Placement, Recorder, Traced};
use crate::hash::placement::{classic_bucket, classic_old_bucket, classic_tophash};
use crate::layout::runtime::HMAP_NAME;
use crate::maps::classic::{ClassicMap, EMPTY_ONE, EMPTY_REST, MIN_TOP_HASH};
use crate::maps::Place;

/// `evacuated(b)`: the bucket's first tophash is an evacuation mark.
pub(crate) fn evacuated(tophash0: u8) -> bool {
    tophash0 > EMPTY_ONE && tophash0 < MIN_TOP_HASH
}

/// The bound on a chain: the walker's (see `maps::classic::ClassicMap::buckets`).
pub(crate) fn chain_limit(m: &ClassicMap) -> u64 {
    let h = &m.header;
    h.bucket_count()
        .saturating_add(h.old_bucket_count())
        .saturating_mul(4)
        .saturating_add(u64::from(h.noverflow))
        .saturating_add(4096)
}

pub(crate) fn trace(
    look: &Lookup<'_, '_>,
    m: &ClassicMap,
    hash: Option<u64>,
    rec: &mut Recorder<'_>,
) -> Result<Traced, PathError> {
    let hmap = look
        .pm
        .layout
        .get(HMAP_NAME)
        .ok_or(crate::maps::MapError::UnknownRuntime)?;
    let h = &m.header;
    let field =
        |rec: &mut Recorder<'_>, name: &'static str, what: &str| rec.read_field(hmap, "hmap", h.addr, name, what);
    let mut notes = Vec::new();
    field(rec, "hash0", "the seed")?;
    let Some(hash) = hash else {
        return Ok(Traced {
            placement: Placement::Unknown,
            found: None,
            absent: false,
            probed: 0,
            notes,
        });
    };
    field(rec, "B", "log2 of the bucket count")?;
    let b = h.b;
    let bucket = classic_bucket(hash, b)?;
    let top = classic_tophash(hash);
    let buckets = field(rec, "buckets", "the bucket array")?;
    let old = field(rec, "oldbuckets", "the old array (non-nil while growing)")?;
    let size = m.shape.container_size();
    let mut placement = Placement::Classic {
        b,
        bucket,
        old_bucket: None,
        used_old: false,
        tophash: top,
    };
    if buckets == 0 {
        notes.push("the map has no bucket array yet (nothing was ever inserted)".into());
        return Ok(Traced {
            placement,
            found: None,
            absent: true,
            probed: 0,
            notes,
        });
    }
    let mut start = (buckets.wrapping_add(bucket.wrapping_mul(size)), false, bucket);
    if old != 0 {
        field(rec, "flags", "value 8 (sameSizeGrow, bit 3) = same-size grow")?;
        field(rec, "nevacuate", "old buckets below this are evacuated")?;
        let ob = classic_old_bucket(hash, b, h.same_size_grow())?;
        let oaddr = old.wrapping_add(ob.wrapping_mul(size));
        let t0 = rec.read_num(
            "old bucket",
            format!("old bucket {ob} tophash[0]: evacuated?"),
            oaddr,
            0,
            1,
        )? as u8;
        let used_old = !evacuated(t0);
        rec.note_last(if used_old {
            format!("not evacuated ({}): the lookup searches the old bucket", state(t0))
        } else {
            format!("evacuated ({}): the lookup searches the new bucket", state(t0))
        });
        if used_old != (ob >= h.nevacuate) {
            notes.push(format!(
                "old bucket {ob} is {}evacuated although nevacuate is {} (buckets are also evacuated out of order, by writes)",
                if used_old { "not " } else { "" },
                h.nevacuate
            ));
        }
        if used_old {
            start = (oaddr, true, ob);
        }
        placement = Placement::Classic {
            b,
            bucket,
            old_bucket: Some(ob),
            used_old,
            tophash: top,
        };
    }
    let (mut addr, old_array, index) = start;
    let structure = if old_array { "old bucket" } else { "bucket" };
    let limit = chain_limit(m);
    let mut visited = HashSet::new();
    let mut depth: u32 = 0;
    let mut probed = 0u64;
    // The chain's end (a nil overflow pointer or emptyRest) is where the
    // runtime's lookup says "absent"; a corrupt chain proves nothing.
    let mut absent = true;
    'chain: while addr != 0 {
        if !visited.insert(addr) || probed > limit {
            notes.push(format!(
                "the overflow chain loops or exceeds {limit} buckets at {addr:#x}: corrupt"
            ));
            absent = false;
            break;
        }
        probed += 1;
        let name = if depth == 0 {
            format!("{structure} {index} tophash[0..8]")
        } else {
            format!("{structure} {index} overflow {depth} tophash[0..8]")
        };
        let tags_step = rec.steps.len();
        let tags = rec.read(structure, name, addr, 0, 8)?;
        for (i, &t) in tags.iter().enumerate() {
            let slot = i as u8;
            if t != top {
                if t == EMPTY_REST {
                    rec.note_at(tags_step, format!("slot {i} is emptyRest: the search ends here"));
                    break 'chain;
                }
                continue;
            }
            let key_off = look.pm.map.shape().key_offset(slot);
            let (key, eq, step) = look.compare_at(rec, structure, addr, key_off, slot)?;
            if !eq {
                rec.note_at(step, format!("tophash {top:#04x} matches in slot {i}, the key differs"));
                continue;
            }
            rec.note_at(
                step,
                format!("tophash {top:#04x} matches in slot {i}, and the key is equal"),
            );
            let shape = look.pm.map.shape();
            let elem_slot = addr.wrapping_add(shape.elem_offset(slot));
            let elem = if shape.indirect_elem {
                crate::memory::MemoryExt::read_u64(&*look.pm.mem, elem_slot).unwrap_or(0)
            } else {
                elem_slot
            };
            let found = Found {
                place: Place::Bucket {
                    old: old_array,
                    index,
                    depth,
                },
                container: addr,
                slot,
                tag: t,
                key_slot: addr.wrapping_add(key_off),
                key,
                elem_slot,
                elem,
                by_hash: true,
                dir_range: None,
            };
            look.read_elem(rec, &found)?;
            return Ok(Traced {
                placement,
                found: Some(found),
                absent: false,
                probed,
                notes,
            });
        }
        addr = rec.read_u64(
            structure,
            format!("{structure} {index} overflow pointer"),
            addr,
            size.saturating_sub(8),
        )?;
        depth = depth.saturating_add(1);
    }
    Ok(Traced {
        placement,
        found: None,
        absent,
        probed,
        notes,
    })
}

fn state(t: u8) -> String {
    format!("tophash[0] = {t} {}", crate::maps::classic::tophash_state(t))
}
