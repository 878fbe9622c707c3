//! A Swiss map's lookup, read by read, as `internal/runtime/maps` makes it:
//! a small map (`dirLen == 0`) compares h2 against the one group's 8 control
//! bytes; otherwise `hash >> globalShift` picks the directory slot and its
//! table, and the probe sequence visits groups from `h1 & lengthMask` with
//! steps +1, +2, +3…, comparing keys where the control byte equals h2 and
//! stopping at the first group with an empty slot.

use super::{Found, Lookup, PathError, Placement, Recorder, Traced};
use crate::hash::placement::{swiss_directory_index, swiss_h1, swiss_h2, ProbeSeq};
use crate::layout::runtime::{SWISS_MAP_NAME, TABLE_NAME};
use crate::maps::swiss::{SwissMap, CTRL_EMPTY};
use crate::maps::{MapError, Place};

pub(crate) fn trace(
    look: &Lookup<'_, '_>,
    m: &SwissMap,
    hash: Option<u64>,
    rec: &mut Recorder<'_>,
) -> Result<Traced, PathError> {
    let spec = look.pm.layout.get(SWISS_MAP_NAME).ok_or(MapError::UnknownRuntime)?;
    let table_spec = look.pm.layout.get(TABLE_NAME).ok_or(MapError::UnknownRuntime)?;
    let h = &m.header;
    let field =
        |rec: &mut Recorder<'_>, name: &'static str, what: &str| rec.read_field(spec, "Map", h.addr, name, what);
    let mut notes = Vec::new();
    field(rec, "seed", "the seed")?;
    let Some(hash) = hash else {
        return Ok(Traced {
            placement: Placement::Unknown,
            found: None,
            absent: false,
            probed: 0,
            notes,
        });
    };
    let (h1, h2) = (swiss_h1(hash), swiss_h2(hash));
    let dir_len = field(
        rec,
        "dirLen",
        "directory length; 0: a small map whose dirPtr is its one group",
    )?;
    let dir_ptr = field(rec, "dirPtr", if dir_len == 0 { "the group" } else { "the directory" })?;
    let group_size = m.shape.container_size();
    if dir_len == 0 {
        let placement = Placement::Swiss {
            h1,
            h2,
            small: true,
            directory_index: 0,
            table: None,
            probe_start: None,
        };
        if dir_ptr == 0 {
            notes.push("the map has no group yet (nothing was ever inserted)".into());
            return Ok(Traced {
                placement,
                found: None,
                absent: true,
                probed: 0,
                notes,
            });
        }
        // A small map's lookup compares every slot of its one group: no
        // match there is the runtime's own "absent".
        let found = probe_group(look, rec, dir_ptr, h2, Place::Group { table: None, index: 0 }, None)?;
        return Ok(Traced {
            placement,
            absent: found.0.is_none(),
            found: found.0,
            probed: 1,
            notes,
        });
    }
    field(rec, "globalShift", "64 - globalDepth")?;
    let idx = swiss_directory_index(hash, h.global_shift, dir_len);
    let table = rec.read_u64(
        "directory",
        format!("directory[{idx}] = hash >> globalShift"),
        dir_ptr,
        idx.wrapping_mul(8),
    )?;
    let groups_off = table_spec
        .field("groups")
        .ok_or(MapError::Layout {
            structure: TABLE_NAME,
            field: "groups",
        })?
        .offset;
    let data = rec.read_u64(TABLE_NAME, "table.groups.data", table, groups_off)?;
    let mask = rec.read_u64(
        TABLE_NAME,
        "table.groups.lengthMask (groups - 1)",
        table,
        groups_off + 8,
    )?;
    let table_pos = m.tables.iter().position(|t| t.addr == table);
    let dir_range = table_pos
        .and_then(|p| m.tables.get(p))
        .map(|t| (t.dir_first, t.dir_first + t.dir_slots.saturating_sub(1)));
    let placement = Placement::Swiss {
        h1,
        h2,
        small: false,
        directory_index: idx,
        table: Some(table),
        probe_start: Some(h1 & mask),
    };
    let Some(known) = table_pos.and_then(|p| m.tables.get(p)) else {
        notes.push(format!(
            "directory[{idx}] = {table:#x} is not among the tables read with the header: torn read?"
        ));
        return Ok(Traced {
            placement,
            found: None,
            absent: false,
            probed: 0,
            notes,
        });
    };
    // The table as read with the header bounds the probe: a mask that
    // changed since would make the sequence unbounded in principle.
    let mask = mask.min(known.length_mask);
    let mut probed = 0u64;
    for g in ProbeSeq::new(hash, mask) {
        probed += 1;
        let addr = data.wrapping_add(g.wrapping_mul(group_size));
        let ctrl_step = rec.steps.len();
        let (found, ctrl) = probe_group(
            look,
            rec,
            addr,
            h2,
            Place::Group {
                table: table_pos,
                index: g,
            },
            dir_range,
        )?;
        if found.is_some() {
            return Ok(Traced {
                placement,
                found,
                absent: false,
                probed,
                notes,
            });
        }
        if ctrl.contains(&CTRL_EMPTY) {
            rec.note_at(
                ctrl_step,
                format!("group {g} has an empty slot: the key is not in the table (probe ends after {probed} groups)"),
            );
            return Ok(Traced {
                placement,
                found: None,
                absent: true,
                probed,
                notes,
            });
        }
    }
    notes.push(format!("probed all {probed} groups without finding an empty slot"));
    Ok(Traced {
        placement,
        found: None,
        absent: false,
        probed,
        notes,
    })
}

/// Reads one group's control word and compares the key in every slot whose
/// control byte equals h2. Returns the find and the control bytes.
fn probe_group(
    look: &Lookup<'_, '_>,
    rec: &mut Recorder<'_>,
    addr: u64,
    h2: u8,
    place: Place,
    dir_range: Option<(u64, u64)>,
) -> Result<(Option<Found>, Vec<u8>), PathError> {
    let ctrl = rec.read("group", format!("{place} control bytes"), addr, 0, 8)?;
    let shape = *look.pm.map.shape();
    for (i, &c) in ctrl.iter().enumerate() {
        if c != h2 {
            continue;
        }
        let slot = i as u8;
        let key_off = shape.key_offset(slot);
        let (key, eq, step) = look.compare_at(rec, "group", addr, key_off, slot)?;
        if !eq {
            rec.note_at(
                step,
                format!("control byte {h2:#04x} matches in slot {i}, the key differs"),
            );
            continue;
        }
        rec.note_at(
            step,
            format!("control byte {h2:#04x} matches in slot {i}, and the key is equal"),
        );
        let elem_slot = addr.wrapping_add(shape.elem_offset(slot));
        let elem = if shape.indirect_elem {
            crate::memory::MemoryExt::read_u64(&*look.pm.mem, elem_slot).unwrap_or(0)
        } else {
            elem_slot
        };
        let found = Found {
            place,
            container: addr,
            slot,
            tag: c,
            key_slot: addr.wrapping_add(key_off),
            key,
            elem_slot,
            elem,
            by_hash: true,
            dir_range,
        };
        look.read_elem(rec, &found)?;
        return Ok((Some(found), ctrl));
    }
    Ok((None, ctrl))
}
