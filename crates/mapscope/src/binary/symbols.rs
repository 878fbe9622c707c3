//! The ELF symbol table (`.symtab`), when the binary kept one: data symbols
//! by name and by address. Go's linker writes every package-level variable
//! and runtime global there (`runtime.mheap_`, `runtime.allgs`, `main.cache`),
//! so a binary without DWARF but with symbols can still name its globals.

use object::{Object, ObjectSymbol, SymbolKind};

/// One data symbol: where it starts, how long it is, what it is called.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSymbol {
    pub name: String,
    pub addr: u64,
    pub size: u64,
}

/// Data symbols sorted by address, with a name index.
#[derive(Debug, Default)]
pub(crate) struct SymbolIndex {
    by_addr: Vec<DataSymbol>,
    by_name: std::collections::HashMap<String, usize>,
}

impl SymbolIndex {
    pub(crate) fn load(data: &[u8]) -> SymbolIndex {
        let Ok(file) = object::File::parse(data) else {
            return SymbolIndex::default();
        };
        let mut by_addr: Vec<DataSymbol> = file
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Data && s.address() != 0)
            .filter_map(|s| {
                Some(DataSymbol {
                    name: s.name().ok()?.to_string(),
                    addr: s.address(),
                    size: s.size(),
                })
            })
            .collect();
        by_addr.sort_by(|a, b| a.addr.cmp(&b.addr).then(b.size.cmp(&a.size)));
        let by_name = by_addr.iter().enumerate().map(|(i, s)| (s.name.clone(), i)).collect();
        SymbolIndex { by_addr, by_name }
    }

    pub(crate) fn by_name(&self, name: &str) -> Option<&DataSymbol> {
        self.by_name.get(name).and_then(|&i| self.by_addr.get(i))
    }

    /// The sized symbol whose bytes hold `addr`, as `go tool objdump` names
    /// addresses: zero-sized markers (`runtime.noptrbss`) sharing a start
    /// with a real symbol are passed over.
    pub(crate) fn sized_containing(&self, addr: u64) -> Option<&DataSymbol> {
        let i = self.by_addr.partition_point(|s| s.addr <= addr);
        let last = self.by_addr.get(i.checked_sub(1)?)?;
        // Ties are sorted largest first, so the first of the run is the one.
        let first = self.by_addr.partition_point(|s| s.addr < last.addr);
        let s = self.by_addr.get(first)?;
        (addr - s.addr < s.size).then_some(s)
    }

    /// The symbol whose bytes hold `addr` (a zero-sized symbol holds only its own address).
    pub(crate) fn containing(&self, addr: u64) -> Option<&DataSymbol> {
        let i = self.by_addr.partition_point(|s| s.addr <= addr);
        let s = self.by_addr.get(i.checked_sub(1)?)?;
        (addr < s.addr.saturating_add(s.size.max(1))).then_some(s)
    }
}
