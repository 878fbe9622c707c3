//! Every map type of the binary, prepared for telling which of them an
//! untyped map header has: its bucket/group shape, the GC mask of that
//! bucket/group, and a hasher for its key — each computed at most once.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::binary::{GoBinary, GoType, TypeId};
pub use crate::hash::stored::HashVerdict;
use crate::hash::{KeyHasher, KeyType};
use crate::maps::{shape_of, Entry, MapShape};
use crate::memory::Memory;
use crate::path::params::TargetHash;
use crate::path::MemResolver;

pub struct Candidate {
    pub ty: GoType,
    pub shape: MapShape,
    /// Address of the `map.bucket[K]V` / `map.group[K]V` descriptor.
    pub container_type: Option<u64>,
    /// Word offsets of the pointers in one bucket/group, when the descriptor's
    /// mask could be read.
    pub container_mask: Option<Vec<u32>>,
    pub container_has_pointers: bool,
    key: Option<GoType>,
    /// The elem type and, for pointers, the pointee's, for telling apart
    /// types whose keys hash alike by what their elems point at.
    pub elem: Option<GoType>,
    pub elem_pointee: Option<GoType>,
    /// Candidates with the same key type hash alike: index of the key type.
    pub key_group: usize,
    hasher: OnceLock<Option<KeyHasher>>,
}

pub struct Candidates {
    pub all: Vec<Candidate>,
    by_container_size: HashMap<u64, Vec<usize>>,
    by_container_type: HashMap<u64, usize>,
    by_name: HashMap<String, usize>,
}

impl Candidates {
    pub fn load(bin: &GoBinary, mem: &dyn Memory) -> Candidates {
        let mut all = Vec::new();
        let mut key_groups: HashMap<String, usize> = HashMap::new();
        for ty in bin.map_types().unwrap_or_default() {
            let key_name = ty.map_key().map_or_else(String::new, |k| k.name.clone());
            let next = key_groups.len();
            let key_group = *key_groups.entry(key_name).or_insert(next);
            if let Some(c) = Candidate::for_type(bin, mem, ty, key_group) {
                all.push(c);
            }
        }
        let mut by_container_size: HashMap<u64, Vec<usize>> = HashMap::new();
        let mut by_container_type = HashMap::new();
        for (i, c) in all.iter().enumerate() {
            by_container_size.entry(c.shape.container_size()).or_default().push(i);
            if let Some(t) = c.container_type {
                by_container_type.entry(t).or_insert(i);
            }
        }
        let by_name = all.iter().enumerate().map(|(i, c)| (c.ty.name.clone(), i)).collect();
        Candidates {
            by_name,
            all,
            by_container_size,
            by_container_type,
        }
    }

    pub fn get(&self, i: usize) -> Option<&Candidate> {
        self.all.get(i)
    }

    pub fn with_container_size(&self, size: u64) -> &[usize] {
        self.by_container_size.get(&size).map_or(&[], Vec::as_slice)
    }

    pub fn by_container_type(&self, addr: u64) -> Option<usize> {
        self.by_container_type.get(&addr).copied()
    }

    /// Every distinct container size, for checking an allocation against.
    pub fn container_sizes(&self) -> impl Iterator<Item = u64> + '_ {
        self.by_container_size.keys().copied()
    }

    pub fn by_name(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }
}

impl Candidate {
    /// `ty` prepared for telling maps apart; `None` when its slot layout
    /// cannot be read. `key_group`: the index shared by candidates with the
    /// same key type.
    pub fn for_type(bin: &GoBinary, mem: &dyn Memory, ty: GoType, key_group: usize) -> Option<Candidate> {
        let shape = shape_of(bin, &ty).ok()?;
        let container_type = ty
            .map_descriptor()
            .and_then(|d| d.bucket_or_group.as_ref())
            .and_then(|r| match r.id {
                TypeId::Runtime(a) => Some(a),
                TypeId::Dwarf(_) => bin.type_by_id(r.id).ok().and_then(|t| t.runtime_addr),
            });
        let (container_mask, container_has_pointers) =
            container_type.and_then(|a| read_mask(mem, a)).unwrap_or((None, true));
        let key = ty.map_key().and_then(|k| bin.type_by_id(k.id).ok());
        let elem = ty.elem().and_then(|e| bin.type_by_id(e.id).ok());
        let elem_pointee = match elem.as_ref().map(|e| &e.detail) {
            Some(crate::binary::TypeDetail::Pointer { elem: Some(p) }) => bin.type_by_id(p.id).ok(),
            _ => None,
        };
        Some(Candidate {
            elem,
            elem_pointee,
            key_group,
            ty,
            shape,
            container_type,
            container_mask,
            container_has_pointers,
            key,
            hasher: OnceLock::new(),
        })
    }

    /// The map's own hasher for this key type, or `None` where mapscope cannot hash it.
    pub fn hasher(&self, bin: &GoBinary, target: Option<&TargetHash>) -> Option<&KeyHasher> {
        self.hasher
            .get_or_init(|| {
                let target = target?;
                let key = self.key.as_ref()?;
                let kt = KeyType::from_go_type(bin, key).ok()?;
                KeyHasher::new(&target.params, &kt).ok()
            })
            .as_ref()
    }

    /// Hashes the sampled stored keys as this candidate's key type with the
    /// map's `seed` ([`crate::hash::stored::check_stored_tags`]); `Silent`
    /// where mapscope cannot hash this key type.
    #[allow(clippy::too_many_arguments)]
    pub fn hashes_match(
        &self,
        bin: &GoBinary,
        mem: &dyn Memory,
        target: Option<&TargetHash>,
        sample: &[Entry],
        seed: u64,
        classic: bool,
        resolver: &MemResolver<'_>,
    ) -> HashVerdict {
        match self.hasher(bin, target) {
            Some(h) => {
                crate::hash::stored::check_stored_tags(h, mem, self.shape.key_size, sample, seed, classic, resolver)
            }
            None => HashVerdict::Silent,
        }
    }
}

/// The pointer words of one bucket/group of the type at `addr` (its GC mask,
/// or the mask rebuilt from its structure where the runtime builds it on
/// demand), as byte offsets; and whether it has pointers at all.
fn read_mask(mem: &dyn Memory, addr: u64) -> Option<(Option<Vec<u32>>, bool)> {
    let bits = crate::heap::gcmask::rebuild(mem, addr, false)?;
    let mask: Vec<u32> = bits
        .iter()
        .enumerate()
        .flat_map(|(i, b)| {
            (0..8u32)
                .filter(move |j| b >> j & 1 == 1)
                .map(move |j| (i as u32 * 8 + j) * 8)
        })
        .collect();
    let has = !mask.is_empty();
    Some((Some(mask), has))
}
